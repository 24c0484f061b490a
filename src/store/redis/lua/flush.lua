-- Drops every queued task of a queue (ready, with a priority, or delayed),
-- with its entry in the search index; running tasks and finished ones stay.
-- The tasks of its groups (the rotation '<limits>:groups' names them) go
-- too; paused groups stay paused.
--
-- KEYS   @queue
-- ARGV   (none)
-- REPLY  the ids of the tasks it dropped

local ids = redis.call('LRANGE', K.ready, 0, -1)
for _, id in ipairs(redis.call('ZRANGE', K.delayed, 0, -1)) do ids[#ids + 1] = id end
for _, id in ipairs(redis.call('ZRANGE', K.prio, 0, -1)) do ids[#ids + 1] = id end
local rotation = K.limits .. ':groups'
for _, group in ipairs(redis.call('LRANGE', rotation, 0, -1)) do
  if group ~= '' then
    local key = K.limits .. ':g:' .. group
    for _, id in ipairs(redis.call('ZRANGE', key, 0, -1)) do ids[#ids + 1] = id end
    redis.call('DEL', key)
  end
end
redis.call('DEL', rotation)
for i = 1, #ids, 1000 do
  local chunk = {unpack(ids, i, math.min(i + 999, #ids))}
  redis.call('HDEL', K.tasks, unpack(chunk))
  redis.call('HDEL', K.redeliveries, unpack(chunk))
  redis.call('HDEL', K.limits, unpack(chunk))
  redis.call('ZREM', K.search, unpack(chunk))
end
redis.call('DEL', K.ready, K.delayed, K.prio)
return ids
