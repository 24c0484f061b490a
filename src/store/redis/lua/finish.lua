-- Writes how running tasks ended, each only by its lease holder: ends the
-- lease, keeps the final record until it expires, and queues the retry the
-- outcome carries, if any, and counts each ended task in the queue's status
-- history (_helpers.lua). The outcomes of a call are written together:
-- one command a key for all of them (their leases read with one HMGET),
-- plus a few a task only for what it uses (a concurrency slot, a retry).
--
-- KEYS   @queue
-- ARGV   now          the store's clock, in seconds
--        channel      the channel of task events
--        expires      when the final records are dropped
--        onlyExpired  '1' to write only where the lease expired, else '0'
--        outcomes...  then, for each outcome:
--          id         the task's id
--          token      the lease token its holder has
--          record     its encoded final record
--          status     its status's name (SUCCESS...), counted; '' for none
--          retryId    the id of its retry, or '' (then the next five are '')
--          retryDue   when the retry is due, in seconds
--          retryQueued  the retry's timeQueued (its place in the search index)
--          retryRecord  the retry's encoded record
--          retryLimit   the retry's maxConcurrency and priority (enqueue.lua)
--          retryName    the retry's job's name
-- REPLY  per outcome, in order: 1 written, 0 when its lease was lost
-- USES   _helpers.lua

local now, channel, expires = tonumber(A.now), A.channel, A.expires
local outcomes = A.outcomes
local ids = {}
for n, outcome in ipairs(outcomes) do ids[n] = outcome.id end
local tokens = hmget_all(K.leases, ids)
local ends = {}
if A.onlyExpired == '1' then
  for at = 1, #ids, 1000 do
    local part = redis.call('ZMSCORE', K.running, unpack(ids, at, math.min(at + 999, #ids)))
    for i = 1, #part do ends[at + i - 1] = part[i] end
  end
end
local out, seen, ended, records, expiry, retries = {}, {}, {}, {}, {}, {}
for n, outcome in ipairs(outcomes) do
  local id = outcome.id
  -- A lease holds while its token is stored (and, if asked, expired).
  local held = tokens[n] == outcome.token
  if held and A.onlyExpired == '1' then held = tonumber(ends[n] or now) < now end
  -- An id twice in one call is written once.
  if held and not seen[id] then
    seen[id] = true
    ended[#ended + 1] = id
    records[#records + 1] = id
    records[#records + 1] = outcome.record
    expiry[#expiry + 1] = expires
    expiry[#expiry + 1] = id
    emit('done', outcome.record)
    count_ended(now, outcome.status)
    if outcome.retryId ~= '' then
      retries[#retries + 1] = {id = outcome.retryId, due = outcome.retryDue,
        queued = outcome.retryQueued, record = outcome.retryRecord,
        limit = outcome.retryLimit, name = outcome.retryName}
    end
    out[n] = 1
  else
    out[n] = 0
  end
end
if #ended > 0 then
  -- The slots held: only tasks with a concurrency limit (their job's, or
  -- their group's) have one.
  local limits = hmget_all(K.limits, ended)
  for i, id in ipairs(ended) do
    if limits[i] then
      local limit, _, _, _, _, group_limit = parse_limit(limits[i])
      if limit or group_limit then drop_slot(id) end
    end
  end
  for _, key in ipairs({K.leases, K.started, K.tasks, K.redeliveries, K.limits}) do
    call_chunked('HDEL', key, ended, 1000)
  end
  call_chunked('ZREM', K.running, ended, 1000)
  call_chunked('SREM', K.revoke, ended, 1000)
  call_chunked('HSET', K.done, records, 1000)
  call_chunked('ZADD', K.expiry, expiry, 1000)
end
if #retries > 0 then
  local wake = enqueue(now, retries)
  if wake then mark(wake) end
end
flush(channel)
return out
