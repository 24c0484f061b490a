-- Queues tasks in one queue, all or none: ready ones at the head of the
-- ready list (or in `prio`, those with a priority), delayed ones in the
-- delayed set, all in the search index.
-- Then, on a single server (`namespace` given), it hands ready tasks to a
-- worker waiting on this queue, claimed for it under leases, in its inbox
-- '<namespace>:inbox:<waiter>' (see claim.lua): the worker's blocking pop
-- wakes with its tasks, with no claim to send. Else, or for the tasks left
-- over, it wakes a waiting worker through the queue's marker. A paused
-- queue's tasks wait: none is handed over, and no marker wakes a worker
-- for them.
-- A task's id is new (the client makes it), so the one check of a
-- duplicate is HSETNX for a single task, or one HMGET of `tasks` and one
-- of `done` for a batch: a client that sends a call again after a lost
-- connection learns that the first one landed.
--
-- KEYS   @queue
-- ARGV   now          the store's clock, in seconds
--        channel      the channel of task events
--        queue        the queue's name
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
local tasks = A.tasks
local function duplicate(id)
  return redis.error_reply('PQDUPLICATE task ' .. id .. ' exists already')
end
local single = #tasks == 1
if single then
  local id = tasks[1].id
  if redis.call('HEXISTS', K.done, id) == 1 or redis.call('HSETNX', K.tasks, id, tasks[1].record) == 0 then
    return duplicate(id)
  end
else
  local ids = {}
  for n, task in ipairs(tasks) do ids[n] = task.id end
  local queued, done = hmget_all(K.tasks, ids), hmget_all(K.done, ids)
  for n, id in ipairs(ids) do
    if queued[n] or done[n] then return duplicate(id) end
  end
end
local wake = enqueue(now, tasks, single)
if wake == 'r' and A.namespace ~= '' and not is_paused() then
  local waiting = A.namespace .. ':waiting'
  -- The longest waiting first; a registration taken by another queue's
  -- hand-over, or ended by a claim, is stale: dropped. One that ended is
  -- passed over (expired.lua drops those).
  for _, waiter in ipairs(redis.call('ZRANGE', K.waiters, '(' .. A.now, '+inf', 'BYSCORE', 'LIMIT', 0, 10)) do
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
      local frames = {}
      -- Tokens unique to this hand-over: the first task's id is new.
      local given, has_prio, parked = take_ready(now, max, max * 2 + 100,
        queue .. '\n' .. waiter .. ':' .. tasks[1].id .. ':', now + lease, start_info,
        function(id, token, redeliveries, payload)
          frames[#frames + 1] = frame({queue, id, token, redeliveries, payload, A.now})
        end)
      -- Tasks parked by their rate limit: a worker learns when they are due.
      if parked then mark('d') end
      if given > 0 then
        call_chunked('RPUSH', inbox, frames, 1000)
        -- An inbox whose worker died goes with the leases of its tasks.
        redis.call('EXPIRE', inbox, math.ceil(lease))
        -- Tasks left over wake another worker.
        if more_ready(has_prio) then
          wake = 'r'
        else
          wake = nil
          -- A marker left by an earlier call no longer says anything.
          if redis.call('LINDEX', K.marker, 0) == 'r' then redis.call('DEL', K.marker) end
        end
      end
      break
    end
  end
end
if wake then mark(wake) end
flush(channel)
return #tasks
