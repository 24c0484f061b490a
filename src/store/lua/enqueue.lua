-- Queues tasks in one queue, all or none: ready ones at the head of the
-- ready list (or in `prio`, those with a priority), delayed ones in the
-- delayed set, all in the search index.
-- Then, on a single server (`namespace` given), it hands ready tasks to a
-- worker waiting on this queue, claimed for it under leases, in its inbox
-- '<namespace>:inbox:<waiter>' (see claim.lua): the worker's blocking pop
-- wakes with its tasks, with no claim to send. Else it wakes a waiting
-- worker through the queue's marker. A paused queue's tasks wait: none is
-- handed over, and no marker wakes a worker for them.
--
-- KEYS   @queue
--        indexes...   then the tasks' id index keys, on a single server
-- ARGV   now          the store's clock, in seconds
--        channel      the channel of task events
--        queue        the queue's name, the value of the index keys
--        namespace    the store's namespace on a single server, else ''
--        tasks...     then, for each task:
--          id         its id
--          due        when it is due, in seconds
--          queued     its timeQueued: its place in the search index
--          record     its encoded record
--          limit      its maxConcurrency, then '\t' and its priority, if any
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
local ready = 0
for n, task in ipairs(A.tasks) do
  local due = tonumber(task.due)
  if due <= now then ready = ready + 1 end
  enqueue(now, channel, task.id, due, task.queued, task.record, task.limit, task.name)
  -- On a single server the index keys come with the queue's (on a Cluster
  -- they live on other slots and the client writes them).
  local index = K.indexes[n]
  if index then redis.call('SET', index, queue) end
end
if ready > 0 and A.namespace ~= '' and redis.call('EXISTS', K.paused) == 0 then
  redis.call('ZREMRANGEBYSCORE', K.waiters, '-inf', '(' .. A.now)
  local waiting = A.namespace .. ':waiting'
  -- The longest waiting first; a registration taken by another queue's
  -- hand-over, or ended by a claim, is stale: dropped.
  for _, waiter in ipairs(redis.call('ZRANGE', K.waiters, 0, 9)) do
    redis.call('ZREM', K.waiters, waiter)
    local info = redis.call('HGET', waiting, waiter)
    if info then redis.call('HDEL', waiting, waiter) end
    -- A registration that cannot be read is dropped: it never fails a queue.
    local ok, fields = pcall(cjson.decode, info or '')
    local max, lease, worker, node
    if ok and type(fields) == 'table' then max, lease, worker, node = unpack(fields) end
    if type(max) == 'number' and max >= 1 and type(lease) == 'number' and lease > 0
      and type(worker) == 'string' and type(node) == 'string' then
      local inbox = A.namespace .. ':inbox:' .. waiter
      local start_info = cjson.encode({now, worker, node})
      -- Tokens unique to this hand-over: the first task's id is new.
      local given, has_prio, parked = take_ready(now, max, max * 2 + 100,
        queue .. '\n' .. waiter .. ':' .. A.tasks[1].id .. ':', now + lease, start_info,
        function(id, token, redeliveries, payload)
          redis.call('RPUSH', inbox, frame({queue, id, token, redeliveries, payload, A.now}))
        end)
      -- Tasks parked by their rate limit: a worker learns when they are due.
      if parked then mark('d') end
      if given > 0 then
        -- An inbox whose worker died goes with the leases of its tasks.
        redis.call('EXPIRE', inbox, math.ceil(lease))
        -- Its marker no longer says anything when no task is left.
        if redis.call('LLEN', K.ready) == 0 and redis.call('LINDEX', K.marker, 0) == 'r'
          and not (has_prio and redis.call('EXISTS', K.prio) == 1) then
          redis.call('DEL', K.marker)
        end
      end
      break
    end
  end
end
flush(channel)
return #A.tasks
