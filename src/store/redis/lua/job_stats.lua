-- Job statistics of one queue (redis/job_stats.ts): the newest tasks of its
-- search index, counted by job and status, and the run times of the newest
-- ended tasks of each job. Read only: it writes nothing and publishes
-- nothing, so it may read at most `scan` entries and still block the server
-- only briefly.
--
-- KEYS   @queue
-- ARGV   codec        'json' or 'msgpack': how the records are encoded
--        scan         the most index entries read, newest first
--        runs         the most run times of a job
-- REPLY  {entries in the index, then for each job: name,
--        {status, count...}, {timeQueued, seconds...} newest first}

local decode = A.codec == 'msgpack' and cmsgpack.unpack or cjson.decode
local scan, runs = tonumber(A.scan), tonumber(A.runs)
local STARTED = 5
local entries = redis.call('ZREVRANGE', K.search, 0, scan - 1, 'WITHSCORES')
local jobs, order = {}, {}
-- 500 ids a read: HMGET's arguments stay few.
for first = 1, #entries, 1000 do
  local ids, times = {}, {}
  for i = first, math.min(first + 999, #entries), 2 do
    ids[#ids + 1] = entries[i]
    times[#times + 1] = entries[i + 1]
  end
  local done = redis.call('HMGET', K.done, unpack(ids))
  local queued = redis.call('HMGET', K.tasks, unpack(ids))
  local started = redis.call('HMGET', K.started, unpack(ids))
  for n = 1, #ids do
    local payload = done[n] or queued[n]
    local ok, record = false, nil
    if payload then ok, record = pcall(decode, payload) end
    -- A malformed record is skipped: get and search report it.
    if ok and type(record) == 'table' and type(record.name) == 'string'
      and type(record.status) == 'number' then
      local status = record.status
      if not done[n] and started[n] then status = STARTED end
      local job = jobs[record.name]
      if not job then
        job = {counts = {}, runs = {}}
        jobs[record.name] = job
        order[#order + 1] = record.name
      end
      job.counts[status] = (job.counts[status] or 0) + 1
      if done[n] and #job.runs < 2 * runs
        and type(record.timeStarted) == 'number'
        and type(record.timeEnded) == 'number' then
        job.runs[#job.runs + 1] = times[n]
        -- As text: a number in a reply is cut to an integer.
        job.runs[#job.runs + 1] = tostring(record.timeEnded - record.timeStarted)
      end
    end
  end
end
local out = {redis.call('ZCARD', K.search)}
for _, name in ipairs(order) do
  local counts = {}
  for status, n in pairs(jobs[name].counts) do
    counts[#counts + 1] = status
    counts[#counts + 1] = n
  end
  out[#out + 1] = name
  out[#out + 1] = counts
  out[#out + 1] = jobs[name].runs
end
return out
