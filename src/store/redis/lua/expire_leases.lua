-- Ends the leases of a dead worker's running tasks in one queue, for the
-- next reclaim to find them expired. On a single server it also ends the
-- dead worker's registration as a waiter (no task is handed over to it
-- any more) and wakes its blocking pop with an empty inbox entry (read as
-- nothing): a process that stopped without exiting (frozen) stays blocked
-- on the server, and would take the next wake-up of the queue's marker
-- from a live worker. Then a live worker is woken if tasks are ready.
--
-- KEYS   @queue
-- ARGV   worker       the dead worker's name
--        namespace    the store's namespace on a single server, else ''
-- REPLY  how many leases it ended

local ended = 0
for _, id in ipairs(redis.call('ZRANGE', K.running, 0, -1)) do
  local info = redis.call('HGET', K.started, id)
  if info and cjson.decode(info)[2] == A.worker then
    redis.call('ZADD', K.running, 0, id)
    ended = ended + 1
  end
end
if A.namespace ~= '' then
  local waiting = A.namespace .. ':waiting'
  for _, waiter in ipairs(redis.call('ZRANGE', K.waiters, 0, -1)) do
    local info = redis.call('HGET', waiting, waiter)
    if info and cjson.decode(info)[3] == A.worker then
      redis.call('HDEL', waiting, waiter)
      redis.call('ZREM', K.waiters, waiter)
      local inbox = A.namespace .. ':inbox:' .. waiter
      redis.call('RPUSH', inbox, '')
      redis.call('EXPIRE', inbox, 60)
    end
  end
end
if redis.call('EXISTS', K.paused) == 0 and redis.call('LLEN', K.marker) == 0
  and (redis.call('LLEN', K.ready) > 0
    or redis.call('EXISTS', K.prio, K.limits .. ':groups') > 0) then
  redis.call('LPUSH', K.marker, 'r')
end
return ended
