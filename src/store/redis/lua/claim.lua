-- Claims up to `max` ready tasks of one or more queues, in their order (all
-- ready tasks of the first come first), each under a new lease, after
-- moving each queue's delayed tasks now due to its ready list (or to `prio`,
-- those with a priority: see take_ready for the order). A task whose
-- job is at its concurrency limit is skipped and keeps its place. A paused
-- queue (its `paused` key exists: one EXISTS a queue) is left as it is, and
-- its next due time is '' (nothing to wait for there). On a
-- single server one call takes every queue a worker consumes (one round
-- trip); on a Cluster, one queue a call (its keys share one slot).
--
-- With a waiter (single server only) that may have been handed tasks
-- (`inbox` '1': it registered since its last claim that took tasks), those
-- come first: its inbox '<namespace>:inbox:<waiter>', whose entries still
-- hold their lease; a claim that takes tasks then ends its registration.
-- When it claims nothing it registers as waiting until
-- waitUntil: in each queue's `waiters`, and in '<namespace>:waiting' with
-- what `enqueue.lua` needs to claim for it (those keys are known only by
-- their names here, so this is for a single server, never a Cluster).
--
-- KEYS   @queue
--        more...      then the keys of each further queue:
--          @queue
-- ARGV   now          the store's clock, in seconds
--        max          how many tasks to claim, at most, in all
--        leaseEnd     when the new leases end
--        prefix       of the lease tokens ('<queue>\n<prefix>:<n>')
--        startInfo    JSON [time started, worker, node], for reading a task
--        scanExtra    ready ids to look at past twice those still wanted
--        namespace    the store's namespace, or '' with no waiter
--        waiter       this worker's waiter id, or '' (no hand-over)
--        inbox        '1' when its inbox and registration may hold entries
--        waitUntil    when its registration ends, if it registers
--        waiterInfo   JSON [max, leaseSeconds, worker, node] for enqueue.lua
--        queues...    then, for the first queue and each further one:
--          name       the queue's name
-- REPLY  {for each queue its next due time or '', then (queue number from 1,
--        id, token, redeliveries, record, start time) for each task claimed,
--        the start time '' but for one handed over earlier (then the
--        hand-over's time)}
-- USES   _helpers.lua

local now, max, lease_end = tonumber(A.now), tonumber(A.max), A.leaseEnd
local prefix, start_info = A.prefix, A.startInfo
local scan_extra = tonumber(A.scanExtra)
local all = {K}
for _, keys in ipairs(K.more) do all[#all + 1] = keys end
local out, claimed = {}, 0
local number_of = {}
for q = 1, #all do
  out[q] = ''
  number_of[A.queues[q].name] = q
end
local waiter = A.waiter
local inbox = A.namespace .. ':inbox:' .. waiter
if waiter ~= '' and A.inbox == '1' then
  -- Tasks handed over while this worker was not blocked on its inbox.
  local entries = redis.call('LPOP', inbox, max)
  for _, entry in ipairs(entries or {}) do
    local fields = unframe(entry)
    local q = number_of[fields[1]]
    if q and redis.call('HGET', all[q].leases, fields[2]) == fields[3] then
      claimed = claimed + 1
      out[#out + 1] = q
      out[#out + 1] = fields[2]
      out[#out + 1] = fields[3]
      out[#out + 1] = fields[4]
      out[#out + 1] = fields[5]
      out[#out + 1] = fields[6] or ''
    end
  end
end
for q, keys in ipairs(all) do
  -- The helpers read the keys of the queue at hand.
  K = keys
  local paused = is_paused()
  -- The first delayed task tells whether any is due (then they are moved
  -- to where due tasks wait) and when the next one is.
  local first = paused and {} or redis.call('ZRANGE', K.delayed, 0, 0, 'WITHSCORES')
  if claimed < max and not paused then
    if first[2] and tonumber(first[2]) <= now then
      move_due(now)
      first = nil
    end
    local taken, has_prio, parked = take_ready(now, max - claimed, (max - claimed) * 2 + scan_extra,
      A.queues[q].name .. '\n' .. prefix .. ':', lease_end, start_info,
      function(id, token, redeliveries, payload)
        out[#out + 1] = q
        out[#out + 1] = id
        out[#out + 1] = token
        out[#out + 1] = redeliveries
        out[#out + 1] = payload
        out[#out + 1] = ''
      end)
    if parked then first = nil end
    claimed = claimed + taken
    if claimed == max and more_ready(has_prio) then mark() end
  end
  first = first or redis.call('ZRANGE', K.delayed, 0, 0, 'WITHSCORES')
  if first[2] then out[q] = first[2] end
end
if waiter ~= '' then
  local waiting = A.namespace .. ':waiting'
  if claimed == 0 then
    redis.call('HSET', waiting, waiter, A.waiterInfo)
    -- Registrations that ended are passed over by enqueue.lua and dropped
    -- by expired.lua (the periodic reclaim), not here or at each enqueue.
    for _, keys in ipairs(all) do redis.call('ZADD', keys.waiters, A.waitUntil, waiter) end
  elseif A.inbox == '1' then
    -- Not waiting: its entries in the queues' `waiters` are stale now.
    redis.call('HDEL', waiting, waiter)
  end
end
return out
