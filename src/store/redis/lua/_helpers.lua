-- The helpers of the scripts that name this file in USES: events gathered
-- and published at the end, the marker that wakes a waiting worker,
-- queueing tasks (and indexing them for search), taking ready tasks under
-- leases, the frames of a waiter's inbox, checking and ending a lease,
-- finishing a task, and counting the tasks that end (the status history).
-- They read the queue's keys by name (K) and no argument of their own.
-- The cost of a task is the budget of the store: the hot path (queue,
-- claim, finish a task with no priority, limit or rate limit) writes each
-- key once a call with a variadic command (HSET, HMGET, LPUSH, RPOP with a
-- count, ZADD, HDEL), not once a task; a feature a task does not use costs
-- it no command. Counting the tasks a call ends costs it two commands (an
-- HMGET and an HSET of the queue's `history`), whatever their number.
--
-- KEYS   @queue
-- ARGV   (none)
-- REPLY  (none: these are helpers, prepended to the scripts that use them)

-- Events are gathered and published at the end, one message per event name:
-- "<event>\n<record>" for one, "*<event>\n<list of records>" for many (a
-- JSON array, or a msgpack array, built from the encoded records).
local events, order = {}, {}
-- The search index entries of the tasks queued (score, id, ...), written
-- with one ZADD per 500 at the end: a batch of 1000 tasks makes two calls.
local searched = {}
-- Runs `command key ...list` in calls of at most `step` values (Lua's
-- unpack has a stack limit): one call for a batch of up to 1000 tasks.
local function call_chunked(command, key, list, step)
  for at = 1, #list, step do
    redis.call(command, key, unpack(list, at, math.min(at + step - 1, #list)))
  end
end
-- HMGET of many fields, in chunks: the values in the fields' order.
local function hmget_all(key, fields)
  local values = {}
  for at = 1, #fields, 1000 do
    local part = redis.call('HMGET', key, unpack(fields, at, math.min(at + 999, #fields)))
    for i = 1, #part do values[at + i - 1] = part[i] end
  end
  return values
end
local function emit(event, payload)
  local list = events[event]
  if not list then
    list = {}
    events[event] = list
    order[#order + 1] = event
  end
  list[#list + 1] = payload
end
-- The status history of the queue (`history`, a HASH, see keys.ts): the
-- totals since its first count, 'all:<STATUS>', and a ring of 1440 minutes
-- (24 h): the slot (minute / 60) mod 1440 holds its minute's start,
-- 'm:<slot>', and its counts, '<slot>:<STATUS>'; a slot stamped with
-- another minute is a day old, and starts again from 0. The tasks a script
-- ends are counted as they end (count_ended) and written by flush with one
-- HMGET and one HSET, whatever their number: nothing to prune, no sweep.
local HISTORY_STATUSES = {'SUCCESS', 'FAILURE', 'REVOKED', 'RETRY'}
local ended_counts, ended_at = {}, nil
-- Counts a task that ended with `status` ('SUCCESS'...; '' counts nothing)
-- at `now`, the store's clock.
local function count_ended(now, status)
  if status == '' then return end
  ended_counts[status] = (ended_counts[status] or 0) + 1
  ended_at = now
end
local function write_counts()
  local minute = math.floor(ended_at / 60) * 60
  local stamp = string.format('%.0f', minute)
  local slot = string.format('%.0f', (minute / 60) % 1440)
  local fields = {'m:' .. slot}
  for _, status in ipairs(HISTORY_STATUSES) do
    fields[#fields + 1] = slot .. ':' .. status
    fields[#fields + 1] = 'all:' .. status
  end
  local values = redis.call('HMGET', K.history, unpack(fields))
  local fresh = values[1] ~= stamp
  local out = {fields[1], stamp}
  for i, status in ipairs(HISTORY_STATUSES) do
    local add = ended_counts[status] or 0
    if add > 0 or fresh then
      local count = fresh and 0 or tonumber(values[2 * i] or '0')
      out[#out + 1] = fields[2 * i]
      out[#out + 1] = string.format('%.0f', count + add)
    end
    if add > 0 then
      out[#out + 1] = fields[2 * i + 1]
      out[#out + 1] = string.format('%.0f', tonumber(values[2 * i + 1] or '0') + add)
    end
  end
  redis.call('HSET', K.history, unpack(out))
end
-- Writes what the script gathered: the search index entries, the counts
-- of the tasks it ended, then the events.
local function flush(channel)
  if ended_at then write_counts() end
  for at = 1, #searched, 1000 do
    redis.call('ZADD', K.search, unpack(searched, at, math.min(at + 999, #searched)))
  end
  for _, event in ipairs(order) do
    local list = events[event]
    if #list == 1 then
      redis.call('PUBLISH', channel, event .. '\n' .. list[1])
    else
      local n, body = #list, nil
      if string.byte(list[1], 1) == 123 then
        body = '[' .. table.concat(list, ',') .. ']'
      else
        local head
        if n < 16 then
          head = string.char(144 + n)
        elseif n < 65536 then
          head = string.char(220, math.floor(n / 256), n % 256)
        else
          head = string.char(221, math.floor(n / 16777216) % 256,
            math.floor(n / 65536) % 256, math.floor(n / 256) % 256, n % 256)
        end
        body = head .. table.concat(list)
      end
      redis.call('PUBLISH', channel, '*' .. event .. '\n' .. body)
    end
  end
end
-- Whether the queue at hand is paused, read once a script a queue.
local paused_of = {}
local function is_paused()
  local paused = paused_of[K.paused]
  if paused == nil then
    paused = redis.call('EXISTS', K.paused) == 1
    paused_of[K.paused] = paused
  end
  return paused
end
-- Wakes one waiting worker: 'r' when a task is ready, 'd' when a delayed
-- task is due before the others (the worker then learns when). None while
-- the queue is paused (resume.lua marks it then). Once a script a queue:
-- a marker there already says it all.
local marked = {}
local function mark(kind)
  if marked[K.marker] then return end
  marked[K.marker] = true
  if redis.call('LLEN', K.marker) == 0 and not is_paused() then
    redis.call('LPUSH', K.marker, kind or 'r')
  end
end
-- Priorities. A due task with a priority (an integer from -1000 to 1000,
-- not 0) waits in `prio` instead of `ready`, scored -priority * 2^40 + seq:
-- the lowest score is the highest priority, and within one priority the
-- smallest seq (counted as tasks become due: first in, first out). Scores
-- stay exact: |score| < 1001 * 2^40 < 2^53. A score < 0 is a priority above
-- 0, one > 0 below. The priority is kept in `limits` with the concurrency
-- limit, so that a task put back (a release, a redelivery, a delayed task
-- now due) goes back with it, and a task that has none of them costs
-- nothing: `limits` holds id -> '<maxConcurrency>\t<job name>', then
-- '\t<priority>' when it has one, then '\t<tasks>\t<per>\t<key>' when it
-- has a rate limit ('' for each part it has not), then '\t<group>\t<group
-- concurrency>' when it has a group (docs/fair_queues.md); its field '#seq'
-- (no task id has a '#') counts the seq of `prio` and of the groups.
local PRIO_STEP = 1099511627776
-- The limit (a number, or nil for none), the job name, the priority (its
-- text, or nil for none), the rate limit ({tasks, per, bucket}, or nil),
-- the group (or nil) and the group's concurrency limit (or nil) of an entry
-- of `limits`.
local function parse_limit(value)
  local fields, at = {}, 1
  while true do
    local tab = string.find(value, '\t', at, true)
    fields[#fields + 1] = string.sub(value, at, tab and tab - 1 or -1)
    if not tab then break end
    at = tab + 1
  end
  local name, priority, rate = fields[2], fields[3], nil
  if priority == '' then priority = nil end
  if fields[6] and fields[4] ~= '' then
    rate = {tonumber(fields[4]), tonumber(fields[5]),
      fields[6] == '' and name or name .. '\n' .. fields[6]}
  end
  local group = fields[7]
  if group == '' then group = nil end
  return tonumber(fields[1]), name, priority, rate, group, tonumber(fields[8] or '')
end
-- Puts a due task with a priority in `prio`: after the tasks of its
-- priority, or, with seq 0 (a task put back), before them.
local function prio_push(id, priority, seq)
  seq = seq or redis.call('HINCRBY', K.limits, '#seq', 1)
  redis.call('ZADD', K.prio, string.format('%.0f', -tonumber(priority) * PRIO_STEP + seq), id)
end
-- Groups (fair queues): a due task with a group waits in its group's ZSET
-- '<limits>:g:<group>', scored as in `prio` (its priority, then seq), not
-- in `ready` or `prio`. The rotation '<limits>:groups' (a LIST) holds each
-- group with queued tasks once, and '' (the queue's tasks without a group,
-- one more turn) while any group is there: a claim moves its head to its
-- tail and takes one task of that group a turn (take_ready). A group that
-- ends up empty leaves it at its next turn; '<limits>:gpaused' (SET) holds
-- the paused groups (skipped, kept in turn) and '<limits>:gactive' (HASH
-- group -> running count) the running tasks of each group with a
-- groupConcurrency, given back by drop_slot.
-- All are on the queue's hash tag. A queue without groups has none of
-- these keys, and its tasks cost no command for them.
local function group_key(group) return K.limits .. ':g:' .. group end
local function rotation_key() return K.limits .. ':groups' end
local function group_active_key() return K.limits .. ':gactive' end
-- Puts a due task of a group in its group's ZSET (after the others of its
-- priority, or, with seq 0, before them), and the group in the rotation
-- when it had no task.
local function group_push(id, group, priority, seq)
  seq = seq or redis.call('HINCRBY', K.limits, '#seq', 1)
  local key = group_key(group)
  redis.call('ZADD', key, string.format('%.0f', -(tonumber(priority) or 0) * PRIO_STEP + seq), id)
  if redis.call('ZCARD', key) == 1 then
    local rotation = rotation_key()
    if redis.call('EXISTS', rotation) == 0 then redis.call('RPUSH', rotation, '') end
    if not redis.call('LPOS', rotation, group) then redis.call('RPUSH', rotation, group) end
  end
end
-- Puts due tasks of groups, each {id, group, priority}, in their groups in
-- their order, as group_push does for one, with one HINCRBY for their seqs
-- and one ZADD and one ZCARD a group.
local function group_push_many(entries)
  if #entries == 0 then return end
  local last = redis.call('HINCRBY', K.limits, '#seq', #entries)
  local by_group, order = {}, {}
  for i, entry in ipairs(entries) do
    local seq = last - #entries + i
    local list = by_group[entry.group]
    if not list then
      list = {}
      by_group[entry.group] = list
      order[#order + 1] = entry.group
    end
    list[#list + 1] = string.format('%.0f', -(tonumber(entry.priority) or 0) * PRIO_STEP + seq)
    list[#list + 1] = entry.id
  end
  local rotation = rotation_key()
  for _, group in ipairs(order) do
    local key, list = group_key(group), by_group[group]
    call_chunked('ZADD', key, list, 1000)
    if redis.call('ZCARD', key) == #list / 2 then
      if redis.call('EXISTS', rotation) == 0 then redis.call('RPUSH', rotation, '') end
      if not redis.call('LPOS', rotation, group) then redis.call('RPUSH', rotation, group) end
    end
  end
end
-- Moves the queue's delayed tasks now due (1000 at most) to where due tasks
-- wait: those of a group to its group, those with a priority to `prio`
-- (oldest due first), the others to the head of the ready list (their
-- `limits` are read in one HMGET).
local function move_due(now)
  local due = redis.call('ZRANGEBYSCORE', K.delayed, '-inf', now, 'LIMIT', 0, 1000)
  if #due == 0 then return end
  local limits = redis.call('HMGET', K.limits, unpack(due))
  local priorities = {}
  for i = 1, #due do
    if limits[i] then
      local _, _, priority, _, group = parse_limit(limits[i])
      if group then
        priorities[i] = true
        group_push(due[i], group, priority)
      elseif priority then
        priorities[i] = true
        prio_push(due[i], priority)
      end
    end
  end
  for i = #due, 1, -1 do
    if not priorities[i] then redis.call('RPUSH', K.ready, due[i]) end
  end
  redis.call('ZREM', K.delayed, unpack(due))
end
-- Queues tasks, each {id, due, queued, record, limit, name} (the fields of
-- the scripts' ARGV), indexed for search by `queued` (its timeQueued; the
-- entries are written by flush). Returns the marker that wakes a waiting
-- worker for them, for the caller to set (mark) or to spare (a hand-over):
-- 'r' when one is due now, 'd' when one is due before every other delayed
-- task (the worker then waits for it), else nil. `limit` is its `limits` entry without the job name: its
-- maxConcurrency ('' for none), then '\t' and the rest of the entry when it
-- has more; '' for nothing. Ready tasks without a priority go to the ready
-- list in their order, with one LPUSH for all. With `written`, the
-- records are in `tasks` already (the caller's HSETNX wrote them).
local function enqueue(now, tasks, written)
  local records, limits, ready, delayed, grouped = {}, {}, {}, {}, {}
  local first_due, wake, moved = nil, nil, false
  for _, task in ipairs(tasks) do
    local id, due, limit = task.id, tonumber(task.due), task.limit
    records[#records + 1] = id
    records[#records + 1] = task.record
    searched[#searched + 1] = task.queued
    searched[#searched + 1] = id
    local priority, group
    if limit ~= '' then
      local tab = string.find(limit, '\t', 1, true)
      limits[#limits + 1] = id
      if tab then
        local rest = string.sub(limit, tab + 1)
        local tab2 = string.find(rest, '\t', 1, true)
        priority = string.sub(rest, 1, tab2 and tab2 - 1 or -1)
        if priority == '' then priority = nil end
        limits[#limits + 1] = string.sub(limit, 1, tab - 1) .. '\t' .. task.name .. '\t' .. rest
        group = select(5, parse_limit(limits[#limits]))
      else
        limits[#limits + 1] = limit .. '\t' .. task.name
      end
    end
    if due > now then
      if first_due == nil then
        local first = redis.call('ZRANGE', K.delayed, 0, 0, 'WITHSCORES')
        first_due = first[2] and tonumber(first[2]) or math.huge
      end
      if due < first_due then
        first_due = due
        wake = wake or 'd'
      end
      delayed[#delayed + 1] = task.due
      delayed[#delayed + 1] = id
    else
      wake = 'r'
      if group then
        if not moved then
          move_due(now)
          moved = true
        end
        grouped[#grouped + 1] = {id = id, group = group, priority = priority}
      elseif priority then
        -- Delayed tasks due before it take their place first (in `prio`, by
        -- due time, as the SQLite store orders a priority).
        if not moved then
          move_due(now)
          moved = true
        end
        prio_push(id, priority)
      else
        ready[#ready + 1] = id
      end
    end
    emit('queued', task.record)
  end
  if not written then call_chunked('HSET', K.tasks, records, 1000) end
  call_chunked('HSET', K.limits, limits, 1000)
  call_chunked('ZADD', K.delayed, delayed, 1000)
  call_chunked('LPUSH', K.ready, ready, 1000)
  group_push_many(grouped)
  return wake
end
-- Rate limits: the starts of a bucket (a job, or a job and a key) in its
-- last `per` seconds are a sorted set '<limits>:rate:<bucket>' (on the
-- queue's slot), lease token -> start time, expiring with its window. A
-- claim reads each bucket once (`windows`, its state in this call): a start
-- is taken while it has fewer than `tasks`; past that, the n-th task held
-- back in the call is parked in `delayed` until its slot opens: the
-- (n mod tasks)-th oldest start + per (+ per for each full round of held
-- tasks). So held tasks wait in order, each until a slot may be free, and no
-- worker spins on them; one that finds its slot taken is parked again.
-- Returns nil when it took a start, else the time of the slot.
local function rate_take(windows, rate, now, token)
  local tasks, per, bucket = rate[1], rate[2], rate[3]
  local key = K.limits .. ':rate:' .. bucket
  local window = windows[bucket]
  if not window then
    redis.call('ZREMRANGEBYSCORE', key, '-inf', string.format('%.17g', now - per))
    window = {redis.call('ZCARD', key), 0}
    windows[bucket] = window
  end
  if window[1] < tasks then
    window[1] = window[1] + 1
    redis.call('ZADD', key, string.format('%.17g', now), token)
    redis.call('PEXPIRE', key, math.ceil(per * 1000))
    return nil
  end
  local held = window[2]
  window[2] = held + 1
  local nth = redis.call('ZRANGE', key, held % tasks, held % tasks, 'WITHSCORES')
  return tonumber(nth[2]) + per * (math.floor(held / tasks) + 1)
end
-- Gives back the concurrency slot a running task holds, if it holds one.
-- A task of a group with a groupConcurrency holds one too (its group's
-- running count).
local function drop_slot(id)
  if redis.call('SREM', K.holding, id) == 1 then
    local limit, name, _, _, group, group_limit = parse_limit(redis.call('HGET', K.limits, id))
    if limit and tonumber(redis.call('HINCRBY', K.active, name, -1)) <= 0 then
      redis.call('HDEL', K.active, name)
    end
    if group_limit then
      local key = group_active_key()
      if tonumber(redis.call('HINCRBY', key, group, -1)) <= 0 then redis.call('HDEL', key, group) end
    end
  end
end
-- Takes up to `want` ready tasks of the queue at hand (K), each under a new
-- lease ('<token_prefix><n>') until lease_end, looking at `scan` ids at
-- most: those of `prio` with a priority above 0 (highest first, one at a
-- time), then the ready list (oldest first, popped and read a batch at a
-- time: one RPOP, one HMGET of records and one of limits for the batch),
-- then those of `prio` below 0. A queue without priorities or groups costs
-- one EXISTS more (of both keys). With groups (the rotation exists), one
-- task a turn: a turn of '' takes the next of those without a group as
-- above, a turn of a group the first of its ZSET; a paused group, or one
-- whose task is held back, is passed over, and a round of turns that takes
-- nothing ends the claim. A task whose job is at its concurrency limit, or
-- whose group is at its own, is skipped and keeps its place; one over its
-- rate limit is parked in `delayed` until its slot (rate_take). The leases
-- of the tasks taken are written with one command a key. Calls give(id,
-- token, redeliveries, record) for each, in the order taken; returns how
-- many it took, whether `prio` or the rotation existed (more may wait
-- there), and the earliest slot of a parked task (or nil).
local function take_ready(now, want, scan, token_prefix, lease_end, start_info, give)
  local held, held_prio, taken, scanned = {}, {}, 0, 0
  local windows, parked, active, swept = {}, nil, {}, false
  local ids, tokens, payloads, leases, running, started = {}, {}, {}, {}, {}, {}
  local rotation = rotation_key()
  local found = redis.call('EXISTS', K.prio, rotation)
  local grouped = found > 0 and redis.call('EXISTS', rotation) == 1
  local has_prio = found > 0 and (found == 2 or not grouped)
  local high = has_prio
  -- With groups: none left without a group in this call (its turns pass).
  local plain_empty = false
  local group_active, blocked = {}, {}
  -- Takes one task read from the queue (payload nil: gone, passed over);
  -- true when it took it. A task of a group held back goes back to its
  -- group at once, and the group waits for the next claim.
  local function consider(id, score, payload, limit_text)
    if not payload then return false end
    local token = token_prefix .. (taken + 1)
    local limit, name, rate, group, group_limit
    if limit_text then
      local _
      limit, name, _, rate, group, group_limit = parse_limit(limit_text)
    end
    if (limit or group_limit) and not swept then
      -- An expired lease holds no slot, even before it is reclaimed.
      swept = true
      for _, old in ipairs(redis.call('ZRANGEBYSCORE', K.running, '-inf', '(' .. now, 'LIMIT', 0, 1000)) do
        drop_slot(old)
      end
    end
    local hold = false
    if limit then
      if active[name] == nil then active[name] = tonumber(redis.call('HGET', K.active, name) or '0') end
      hold = active[name] >= limit
    end
    if group_limit and not hold then
      if group_active[group] == nil then
        group_active[group] = tonumber(redis.call('HGET', group_active_key(), group) or '0')
      end
      hold = group_active[group] >= group_limit
    end
    if hold then
      if group then
        redis.call('ZADD', group_key(group), score, id)
        blocked[group] = true
      elseif score then
        held_prio[#held_prio + 1] = score
        held_prio[#held_prio + 1] = id
      else
        held[#held + 1] = id
      end
      return false
    end
    if rate then
      local slot = rate_take(windows, rate, now, token)
      if slot then
        redis.call('ZADD', K.delayed, string.format('%.17g', slot), id)
        if not parked or slot < parked then parked = slot end
        return false
      end
    end
    if limit then
      active[name] = active[name] + 1
      redis.call('HINCRBY', K.active, name, 1)
    end
    if group_limit then
      group_active[group] = tonumber(redis.call('HINCRBY', group_active_key(), group, 1))
    end
    if limit or group_limit then redis.call('SADD', K.holding, id) end
    taken = taken + 1
    ids[taken], tokens[taken], payloads[taken] = id, token, payload
    leases[#leases + 1] = id
    leases[#leases + 1] = token
    running[#running + 1] = lease_end
    running[#running + 1] = id
    started[#started + 1] = id
    started[#started + 1] = start_info
    return true
  end
  -- Takes one task of `prio` (the highest first); false when there is none
  -- left (or, with `above`, none with a priority above 0).
  local function take_prio(above)
    local top = redis.call('ZPOPMIN', K.prio)
    if not top[1] then return false end
    if above and tonumber(top[2]) >= 0 then
      redis.call('ZADD', K.prio, top[2], top[1])
      return false
    end
    scanned = scanned + 1
    consider(top[1], top[2], redis.call('HGET', K.tasks, top[1]), redis.call('HGET', K.limits, top[1]))
    return true
  end
  -- Takes up to `goal` tasks in all of those without a group; true when it
  -- took one.
  local function take_plain(goal)
    local before = taken
    while taken < goal and scanned < scan do
      if high then high = take_prio(true) end
      if not high then
        local popped = redis.call('RPOP', K.ready, math.min(goal - taken, scan - scanned, 1000))
        if popped and #popped > 0 then
          scanned = scanned + #popped
          local records = redis.call('HMGET', K.tasks, unpack(popped))
          local limits = redis.call('HMGET', K.limits, unpack(popped))
          for i, id in ipairs(popped) do consider(id, nil, records[i], limits[i]) end
        elseif not (has_prio and take_prio(false)) then
          break
        end
      end
    end
    return taken > before
  end
  if not grouped then
    take_plain(want)
  else
    local paused = {}
    for _, group in ipairs(redis.call('SMEMBERS', K.limits .. ':gpaused')) do paused[group] = true end
    local turns, misses = redis.call('LLEN', rotation), 0
    while taken < want and scanned < scan and misses < turns do
      -- The head goes to the tail: the next claim starts after it.
      local group = redis.call('LMOVE', rotation, rotation, 'LEFT', 'RIGHT')
      if not group then break end
      local took, gone = false, false
      if group == '' then
        if not plain_empty then
          took = take_plain(taken + 1)
          plain_empty = not took and scanned < scan
        end
      elseif not paused[group] and not blocked[group] then
        local key = group_key(group)
        local top = redis.call('ZPOPMIN', key)
        if top[1] then
          scanned = scanned + 1
          took = consider(top[1], top[2], redis.call('HGET', K.tasks, top[1]), redis.call('HGET', K.limits, top[1]))
        else
          -- Empty: out of the rotation (it is its tail now); no turn.
          redis.call('RPOP', rotation)
          turns = turns - 1
          gone = true
        end
      end
      if took then misses = 0 elseif not gone then misses = misses + 1 end
    end
    -- '' alone: no group has tasks any more.
    if redis.call('LLEN', rotation) <= 1 then redis.call('DEL', rotation) end
  end
  for i = #held, 1, -1 do redis.call('RPUSH', K.ready, held[i]) end
  if #held_prio > 0 then redis.call('ZADD', K.prio, unpack(held_prio)) end
  if taken > 0 then
    call_chunked('HSET', K.leases, leases, 1000)
    call_chunked('ZADD', K.running, running, 1000)
    call_chunked('HSET', K.started, started, 1000)
    local redeliveries = hmget_all(K.redeliveries, ids)
    for i = 1, taken do give(ids[i], tokens[i], redeliveries[i] or '0', payloads[i]) end
  end
  return taken, has_prio or grouped, parked
end
-- True when tasks wait in the ready list, or (`more`: take_ready found
-- `prio` or the rotation) in `prio` or a group.
local function more_ready(more)
  return redis.call('LLEN', K.ready) > 0
    or (more and redis.call('EXISTS', K.prio, rotation_key()) > 0)
end
-- A waiter's inbox holds the tasks handed to it, each one entry of
-- netstrings ('<length>:<bytes>'): queue, id, token, redeliveries, record,
-- and when the hand-over started it (its time in the task's record, and in
-- its rate limit window; absent from entries of older versions).
local function frame(fields)
  local parts = {}
  for i, field in ipairs(fields) do parts[i] = #field .. ':' .. field end
  return table.concat(parts)
end
local function unframe(entry)
  local fields, at = {}, 1
  while at <= #entry do
    local colon = string.find(entry, ':', at, true)
    local length = tonumber(string.sub(entry, at, colon - 1))
    fields[#fields + 1] = string.sub(entry, colon + 1, colon + length)
    at = colon + length + 1
  end
  return fields
end
-- The record of a stored task in a queue's keys, and its start info ('' when
-- not running); nil when none is stored. A finished record past its
-- retention is not stored: dropped when the keys are this queue's (own).
local function stored(now, keys, task_id, own)
  local payload = redis.call('HGET', keys.tasks, task_id)
  if payload then return {payload, redis.call('HGET', keys.started, task_id) or ''} end
  payload = redis.call('HGET', keys.done, task_id)
  if not payload then return nil end
  local expires = redis.call('ZSCORE', keys.expiry, task_id)
  if not expires or tonumber(expires) >= now then return {payload, ''} end
  if own then
    redis.call('HDEL', keys.done, task_id)
    redis.call('ZREM', keys.expiry, task_id)
    redis.call('ZREM', keys.search, task_id)
  end
  return nil
end
-- The stored task of an id (as `stored`) in the queue at hand (K) or, on a
-- single server (namespace given), in another queue of the registry
-- '<namespace>:queues' (whose keys are named here as queueKeys names them:
-- change both). No index of ids is kept: a task costs no key of its own,
-- and a look-up by id across queues is the rare path (a caller's own id).
local function stored_by_id(now, id, queue, namespace)
  local found = stored(now, K, id, true)
  if found or namespace == '' then return found end
  for _, owner in ipairs(redis.call('ZRANGE', namespace .. ':queues', 0, -1)) do
    if owner ~= queue then
      local tagged = string.find(owner, '{[^}]+}') and owner or ('{' .. owner .. '}')
      local prefix = namespace .. ':' .. tagged .. ':'
      found = stored(now, {tasks = prefix .. 'tasks', started = prefix .. 'started',
        done = prefix .. 'done', expiry = prefix .. 'expiry'}, id, false)
      if found then return found end
    end
  end
  return nil
end
-- True when token holds the lease of id (and, if asked, the lease expired).
local function holds(id, token, now, only_expired)
  if redis.call('HGET', K.leases, id) ~= token then return false end
  return not only_expired or tonumber(redis.call('ZSCORE', K.running, id) or now) < now
end
-- Records the final record of a task that is no longer queued or running,
-- kept until expires, counts it (its status, at now) and announces it.
local function finalize(now, id, payload, expires, status)
  count_ended(now, status)
  redis.call('HDEL', K.tasks, id)
  redis.call('HDEL', K.redeliveries, id)
  redis.call('HDEL', K.limits, id)
  redis.call('HSET', K.done, id, payload)
  redis.call('ZADD', K.expiry, expires, id)
  emit('done', payload)
end
-- Ends the lease of a running task and gives back its slot.
local function end_lease(id)
  drop_slot(id)
  redis.call('ZREM', K.running, id)
  redis.call('HDEL', K.leases, id)
  redis.call('HDEL', K.started, id)
  redis.call('SREM', K.revoke, id)
end
