-- Queues tasks in one queue, all or none: ready ones at the head of the
-- ready list, delayed ones in the delayed set; wakes a waiting worker.
--
-- KEYS   @queue
--        indexes...   then the tasks' id index keys, on a single server
-- ARGV   now          the store's clock, in seconds
--        channel      the channel of task events
--        queue        the queue's name, the value of the index keys
--        tasks...     then, for each task:
--          id         its id
--          due        when it is due, in seconds
--          record     its encoded record
--          limit      its job's maxConcurrency, or '' for none
--          name       its job's name
-- REPLY  how many tasks it queued; an error 'PQDUPLICATE task <id> exists
--        already' when a task is queued or finished already (then none is)
-- USES   _helpers.lua

local now, channel, queue = tonumber(A.now), A.channel, A.queue
for _, task in ipairs(A.tasks) do
  local id = task.id
  if redis.call('HEXISTS', K.tasks, id) == 1 or redis.call('HEXISTS', K.done, id) == 1 then
    return redis.error_reply('PQDUPLICATE task ' .. id .. ' exists already')
  end
end
for n, task in ipairs(A.tasks) do
  enqueue(now, channel, task.id, tonumber(task.due), task.record, task.limit, task.name)
  -- On a single server the index keys come with the queue's (on a Cluster
  -- they live on other slots and the client writes them).
  local index = K.indexes[n]
  if index then redis.call('SET', index, queue) end
end
flush(channel)
return #A.tasks
