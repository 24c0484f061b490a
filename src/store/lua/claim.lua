-- Claims up to `max` ready tasks of one or more queues, in their order (all
-- ready tasks of the first come first), each under a new lease, after
-- moving each queue's delayed tasks now due to its ready list. A task whose
-- job is at its concurrency limit is skipped and keeps its place. On a
-- single server one call takes every queue a worker consumes (one round
-- trip); on a Cluster, one queue a call (its keys share one slot).
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
--        queues...    then, for the first queue and each further one:
--          name       the queue's name
-- REPLY  {for each queue its next due time or '', then (queue number from 1,
--        id, token, redeliveries, record) for each task claimed}
-- USES   _helpers.lua

local now, max, lease_end = tonumber(A.now), tonumber(A.max), A.leaseEnd
local prefix, start_info = A.prefix, A.startInfo
local scan_extra = tonumber(A.scanExtra)
local all = {K}
for _, keys in ipairs(K.more) do all[#all + 1] = keys end
local out, claimed = {}, 0
for q = 1, #all do out[q] = '' end
for q, keys in ipairs(all) do
  -- The helpers read the keys of the queue at hand.
  K = keys
  if claimed < max then
    -- An expired lease holds no concurrency slot, even before it is reclaimed.
    for _, id in ipairs(redis.call('ZRANGEBYSCORE', K.running, '-inf', '(' .. A.now, 'LIMIT', 0, 1000)) do
      drop_slot(id)
    end
    local due = redis.call('ZRANGEBYSCORE', K.delayed, '-inf', now, 'LIMIT', 0, 1000)
    for i = #due, 1, -1 do redis.call('RPUSH', K.ready, due[i]) end
    if #due > 0 then redis.call('ZREM', K.delayed, unpack(due)) end
    local token_prefix = A.queues[q].name .. '\n' .. prefix .. ':'
    local held, taken, scanned = {}, 0, 0
    local scan = (max - claimed) * 2 + scan_extra
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
          claimed, taken = claimed + 1, taken + 1
          local token = token_prefix .. taken
          redis.call('HSET', K.leases, id, token)
          redis.call('ZADD', K.running, lease_end, id)
          redis.call('HSET', K.started, id, start_info)
          out[#out + 1] = q
          out[#out + 1] = id
          out[#out + 1] = token
          out[#out + 1] = redis.call('HGET', K.redeliveries, id) or '0'
          out[#out + 1] = payload
        end
      end
    end
    for i = #held, 1, -1 do redis.call('RPUSH', K.ready, held[i]) end
    if claimed == max and redis.call('LLEN', K.ready) > 0 then mark() end
  end
  local next_due = redis.call('ZRANGE', K.delayed, 0, 0, 'WITHSCORES')
  if next_due[2] then out[q] = next_due[2] end
end
return out
