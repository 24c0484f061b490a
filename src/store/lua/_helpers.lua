-- The helpers of the scripts that name this file in USES: events gathered
-- and published at the end, the marker that wakes a waiting worker,
-- queueing one task (and indexing it for search), taking ready tasks under
-- leases, the frames of a waiter's inbox, checking and ending a lease, and
-- finishing a task.
-- They read the queue's keys by name (K) and no argument of their own.
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
local function emit(event, payload)
  local list = events[event]
  if not list then
    list = {}
    events[event] = list
    order[#order + 1] = event
  end
  list[#list + 1] = payload
end
-- Writes what the script gathered: the search index entries, then the events.
local function flush(channel)
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
-- Wakes one waiting worker: 'r' when a task is ready, 'd' when a delayed
-- task is due before the others (the worker then learns when). None while
-- the queue is paused (resume.lua marks it then); the pause is read only
-- when there is no marker yet, so once a batch at most.
local function mark(kind)
  if redis.call('LLEN', K.marker) == 0 and redis.call('EXISTS', K.paused) == 0 then
    redis.call('LPUSH', K.marker, kind or 'r')
  end
end
-- Queues one task, indexed for search by `queued` (its timeQueued; the
-- entry is written by flush); wakes a waiting worker when it is due now, or
-- due before every other delayed task (the worker then waits for it).
local function enqueue(now, channel, id, due, queued, payload, limit, name)
  redis.call('HSET', K.tasks, id, payload)
  searched[#searched + 1] = queued
  searched[#searched + 1] = id
  if limit ~= '' then redis.call('HSET', K.limits, id, limit .. '\t' .. name) end
  if due > now then
    local first = redis.call('ZRANGE', K.delayed, 0, 0, 'WITHSCORES')
    redis.call('ZADD', K.delayed, due, id)
    if not first[2] or due < tonumber(first[2]) then mark('d') end
  else
    redis.call('LPUSH', K.ready, id)
    mark()
  end
  emit('queued', payload)
end
-- Takes up to `want` ready tasks of the queue at hand (K), oldest first,
-- looking at `scan` ids at most, each under a new lease ('<token_prefix><n>')
-- until lease_end; a task whose job is at its concurrency limit is skipped
-- and keeps its place. Calls give(id, token, redeliveries, record) for each;
-- returns how many it took.
local function take_ready(want, scan, token_prefix, lease_end, start_info, give)
  local held, taken, scanned = {}, 0, 0
  while taken < want and scanned < scan do
    local id = redis.call('RPOP', K.ready)
    if not id then break end
    scanned = scanned + 1
    local payload = redis.call('HGET', K.tasks, id)
    if payload then
      local take = true
      local limit = redis.call('HGET', K.limits, id)
      if limit then
        local tab = string.find(limit, '\t')
        local name = string.sub(limit, tab + 1)
        local active = tonumber(redis.call('HGET', K.active, name) or '0')
        if active >= tonumber(string.sub(limit, 1, tab - 1)) then
          take = false
          held[#held + 1] = id
        else
          redis.call('HINCRBY', K.active, name, 1)
          redis.call('SADD', K.holding, id)
        end
      end
      if take then
        taken = taken + 1
        local token = token_prefix .. taken
        redis.call('HSET', K.leases, id, token)
        redis.call('ZADD', K.running, lease_end, id)
        redis.call('HSET', K.started, id, start_info)
        give(id, token, redis.call('HGET', K.redeliveries, id) or '0', payload)
      end
    end
  end
  for i = #held, 1, -1 do redis.call('RPUSH', K.ready, held[i]) end
  return taken
end
-- A waiter's inbox holds the tasks handed to it, each one entry of
-- netstrings ('<length>:<bytes>'): queue, id, token, redeliveries, record.
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
-- True when token holds the lease of id (and, if asked, the lease expired).
local function holds(id, token, now, only_expired)
  if redis.call('HGET', K.leases, id) ~= token then return false end
  return not only_expired or tonumber(redis.call('ZSCORE', K.running, id) or now) < now
end
-- Records the final record of a task that is no longer queued or running,
-- kept until expires, and announces it.
local function finalize(id, payload, expires)
  redis.call('HDEL', K.tasks, id)
  redis.call('HDEL', K.redeliveries, id)
  redis.call('HDEL', K.limits, id)
  redis.call('HSET', K.done, id, payload)
  redis.call('ZADD', K.expiry, expires, id)
  emit('done', payload)
end
-- Gives back the concurrency slot a running task holds, if it holds one.
local function drop_slot(id)
  if redis.call('SREM', K.holding, id) == 1 then
    local limit = redis.call('HGET', K.limits, id)
    local name = string.sub(limit, string.find(limit, '\t') + 1)
    if tonumber(redis.call('HINCRBY', K.active, name, -1)) <= 0 then
      redis.call('HDEL', K.active, name)
    end
  end
end
-- Ends the lease of a running task and gives back its slot.
local function end_lease(id)
  drop_slot(id)
  redis.call('ZREM', K.running, id)
  redis.call('HDEL', K.leases, id)
  redis.call('HDEL', K.started, id)
  redis.call('SREM', K.revoke, id)
end
