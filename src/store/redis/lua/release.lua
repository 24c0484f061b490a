-- Puts leased tasks back at the head of their queue (of their priority). A
-- task whose revoke was asked for must not run again: it keeps its lease and
-- comes back in the second list, for the client to end it REVOKED
-- (finish.lua).
--
-- KEYS   @queue
-- ARGV   now          the store's clock, in seconds
--        channel      the channel of task events
--        count        '1' to count a redelivery, else '0'
--        onlyExpired  '1' to release only where the lease expired, else '0'
--        leases...    then, for each lease:
--          id         the task's id
--          token      the lease token its holder has
-- REPLY  {{ids released...}, {(id, token, record)... of revoked tasks}}
-- USES   _helpers.lua

local now, channel = tonumber(A.now), A.channel
local count, only_expired = A.count == '1', A.onlyExpired == '1'
local released, revoked = {}, {}
-- A task with a priority goes back to `prio`, before the others of its
-- priority (seq 0), as one without goes back to the head of the ready list;
-- one of a group to its group, before the others of its priority.
for _, lease in ipairs(A.leases) do
  local id, token = lease.id, lease.token
  if holds(id, token, now, only_expired) then
    if redis.call('SISMEMBER', K.revoke, id) == 1 then
      revoked[#revoked + 1] = id
      revoked[#revoked + 1] = token
      revoked[#revoked + 1] = redis.call('HGET', K.tasks, id) or ''
    else
      end_lease(id)
      if count then redis.call('HINCRBY', K.redeliveries, id, 1) end
      local limit, priority, group = redis.call('HGET', K.limits, id), nil, nil
      if limit then
        local rate
        priority, rate, group = select(3, parse_limit(limit))
      end
      if group then
        group_push(id, group, priority, 0)
      elseif priority then
        prio_push(id, priority, 0)
      else
        redis.call('RPUSH', K.ready, id)
      end
      emit('queued', redis.call('HGET', K.tasks, id))
      released[#released + 1] = id
    end
  end
end
if #released > 0 then mark() end
flush(channel)
return {released, revoked}
