-- Drops the finished tasks past their retention (their records, and their
-- entries in the search index) and the registrations of waiting workers
-- that ended, and lists the running tasks whose lease expired (the client
-- decides their fate).
--
-- KEYS   @queue
-- ARGV   now          the store's clock, in seconds
--        limit        how many expired leases to list, at most
-- REPLY  {(id, token, redeliveries, record, revoke asked 1/0)...}

local now, limit = tonumber(A.now), tonumber(A.limit)
local old = redis.call('ZRANGEBYSCORE', K.expiry, '-inf', now, 'LIMIT', 0, 1000)
if #old > 0 then
  redis.call('HDEL', K.done, unpack(old))
  redis.call('ZREM', K.expiry, unpack(old))
  redis.call('ZREM', K.search, unpack(old))
end
redis.call('ZREMRANGEBYSCORE', K.waiters, '-inf', '(' .. A.now)
local out = {}
for _, id in ipairs(redis.call('ZRANGEBYSCORE', K.running, '-inf', '(' .. now, 'LIMIT', 0, limit)) do
  out[#out + 1] = id
  out[#out + 1] = redis.call('HGET', K.leases, id) or ''
  out[#out + 1] = redis.call('HGET', K.redeliveries, id) or '0'
  out[#out + 1] = redis.call('HGET', K.tasks, id) or ''
  out[#out + 1] = redis.call('SISMEMBER', K.revoke, id)
end
return out
