-- A worker's beat: it is alive until `aliveUntil`. Workers whose beat
-- expired are forgotten here, so that one beater only reports each.
--
-- KEYS   beats        ZSET worker -> alive until
--        status       HASH worker -> encoded status
-- ARGV   now          the store's clock, in seconds
--        worker       the beating worker's name
--        aliveUntil   when its beat expires
--        status       its encoded status, or '' when it did not change
-- REPLY  {encoded status, or '', of each worker whose beat expired...}

redis.call('ZADD', K.beats, A.aliveUntil, A.worker)
if A.status ~= '' then redis.call('HSET', K.status, A.worker, A.status) end
local dead = redis.call('ZRANGEBYSCORE', K.beats, '-inf', '(' .. A.now, 'LIMIT', 0, 16)
local out = {}
for _, name in ipairs(dead) do
  out[#out + 1] = redis.call('HGET', K.status, name) or ''
  redis.call('ZREM', K.beats, name)
  redis.call('HDEL', K.status, name)
end
return out
