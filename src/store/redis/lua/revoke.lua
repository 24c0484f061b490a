-- Revokes a task: a queued one ends REVOKED at once, if its record is still
-- the one the client read; a running one is marked for its worker to stop.
--
-- KEYS   @queue
-- ARGV   now          the store's clock, in seconds
--        channel      the channel of task events
--        expires      when the final record is dropped
--        id           the task's id
--        seen         its record as the client read it, or ''
--        revoked      its encoded REVOKED record
-- REPLY  'revoked', 'requested', 'finished', 'changed' (read it again) or
--        'unknown'
-- USES   _helpers.lua

local now, channel, expires, id, seen, revoked = tonumber(A.now), A.channel, A.expires, A.id, A.seen, A.revoked
if redis.call('HEXISTS', K.leases, id) == 1 then
  redis.call('SADD', K.revoke, id)
  return 'requested'
end
if redis.call('HEXISTS', K.done, id) == 1 then return 'finished' end
local payload = redis.call('HGET', K.tasks, id)
if not payload then return 'unknown' end
if payload ~= seen then return 'changed' end
redis.call('LREM', K.ready, 0, id)
redis.call('ZREM', K.delayed, id)
redis.call('ZREM', K.prio, id)
local limit = redis.call('HGET', K.limits, id)
local group = limit and select(5, parse_limit(limit))
if group then redis.call('ZREM', K.limits .. ':g:' .. group, id) end
finalize(now, id, revoked, expires, 'REVOKED')
flush(channel)
return 'revoked'
