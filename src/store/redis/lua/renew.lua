-- Renews the leases still held by their tokens, and says which tasks were
-- asked to stop (revoked while running).
--
-- KEYS   @queue
-- ARGV   leaseEnd     when the renewed leases end
--        leases...    then, for each lease:
--          id         the task's id
--          token      the lease token its holder has
-- REPLY  per lease, in order: 0 lost, 1 renewed, 2 renewed and revoke asked

local out = {}
for _, lease in ipairs(A.leases) do
  local id, token = lease.id, lease.token
  if redis.call('HGET', K.leases, id) == token then
    redis.call('ZADD', K.running, 'XX', A.leaseEnd, id)
    out[#out + 1] = redis.call('SISMEMBER', K.revoke, id) + 1
  else
    out[#out + 1] = 0
  end
end
return out
