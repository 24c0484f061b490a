-- A worker's beat: it is alive until `aliveUntil`. Workers whose beat
-- expired are forgotten here, so that one beater only reports each. A
-- beater cut off from the store since `cutOffSince` neither reports nor
-- forgets a worker whose beat expires at or after that time (it was likely
-- cut off too): only those expired before it are dead to this beat.
--
-- KEYS   beats        ZSET worker -> alive until
--        status       HASH worker -> encoded status
-- ARGV   now          the store's clock, in seconds
--        worker       the beating worker's name
--        aliveUntil   when its beat expires
--        status       its encoded status, or '' when it did not change
--        cutOffSince  the beater's last reach of the store before failures, or ''
-- REPLY  {known, next, encoded status (or '') of each worker whose beat
--          expired...}: known is 1 when the beating worker had a beat here
--          before this one (0 on its first, or once another beat reported
--          it dead), next the earliest alive-until of another worker ('' if
--          none)

local known = redis.call('ZSCORE', K.beats, A.worker) and 1 or 0
redis.call('ZADD', K.beats, A.aliveUntil, A.worker)
if A.status ~= '' then redis.call('HSET', K.status, A.worker, A.status) end
local before = A.now
if A.cutOffSince ~= '' and tonumber(A.cutOffSince) < tonumber(A.now) then
  before = A.cutOffSince
end
local dead = redis.call('ZRANGEBYSCORE', K.beats, '-inf', '(' .. before, 'LIMIT', 0, 16)
local out = {known, ''}
for _, name in ipairs(dead) do
  out[#out + 1] = redis.call('HGET', K.status, name) or ''
  redis.call('ZREM', K.beats, name)
  redis.call('HDEL', K.status, name)
end
local first = redis.call('ZRANGE', K.beats, 0, 1, 'WITHSCORES')
for i = 1, #first, 2 do
  if first[i] ~= A.worker then
    out[2] = first[i + 1]
    break
  end
end
return out
