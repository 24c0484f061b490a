-- Ends the leases of a dead worker's running tasks in one queue, for the
-- next reclaim to find them expired.
--
-- KEYS   @queue
-- ARGV   worker       the dead worker's name
-- REPLY  how many leases it ended

local ended = 0
for _, id in ipairs(redis.call('ZRANGE', K.running, 0, -1)) do
  local info = redis.call('HGET', K.started, id)
  if info and cjson.decode(info)[2] == A.worker then
    redis.call('ZADD', K.running, 0, id)
    ended = ended + 1
  end
end
return ended
