-- Claims up to `max` ready tasks of a queue, each under a new lease, after
-- moving the delayed tasks now due to the ready list. A task whose job is at
-- its concurrency limit is skipped and keeps its place.
--
-- KEYS   @queue
-- ARGV   now          the store's clock, in seconds
--        max          how many tasks to claim, at most
--        leaseEnd     when the new leases end
--        prefix       of the lease tokens: the n-th claimed gets 'prefix:n'
--        startInfo    JSON [time started, worker, node], for reading a task
--        scan         how many ready ids to look at, at most
-- REPLY  {next due time or '', then (id, token, redeliveries, record)...}
-- USES   _helpers.lua

local now, max, lease_end = tonumber(A.now), tonumber(A.max), A.leaseEnd
local prefix, start_info, scan = A.prefix, A.startInfo, tonumber(A.scan)
-- An expired lease holds no concurrency slot, even before it is reclaimed.
for _, id in ipairs(redis.call('ZRANGEBYSCORE', K.running, '-inf', '(' .. A.now, 'LIMIT', 0, 1000)) do
  drop_slot(id)
end
local due = redis.call('ZRANGEBYSCORE', K.delayed, '-inf', now, 'LIMIT', 0, 1000)
for i = #due, 1, -1 do redis.call('RPUSH', K.ready, due[i]) end
if #due > 0 then redis.call('ZREM', K.delayed, unpack(due)) end
local out, held, claimed, scanned = {''}, {}, 0, 0
while claimed < max and scanned < scan do
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
      claimed = claimed + 1
      local token = prefix .. ':' .. claimed
      redis.call('HSET', K.leases, id, token)
      redis.call('ZADD', K.running, lease_end, id)
      redis.call('HSET', K.started, id, start_info)
      out[#out + 1] = id
      out[#out + 1] = token
      out[#out + 1] = redis.call('HGET', K.redeliveries, id) or '0'
      out[#out + 1] = payload
    end
  end
end
for i = #held, 1, -1 do redis.call('RPUSH', K.ready, held[i]) end
if claimed == max and redis.call('LLEN', K.ready) > 0 then mark() end
local next_due = redis.call('ZRANGE', K.delayed, 0, 0, 'WITHSCORES')
if next_due[2] then out[1] = next_due[2] end
return out
