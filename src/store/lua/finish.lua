-- Writes how running tasks ended, each only by its lease holder: ends the
-- lease, keeps the final record until it expires, and queues the retry the
-- outcome carries, if any.
--
-- KEYS   @queue
--        indexes...   then the outcomes' id index keys, on a single server
-- ARGV   now          the store's clock, in seconds
--        channel      the channel of task events
--        expires      when the final records are dropped
--        onlyExpired  '1' to write only where the lease expired, else '0'
--        indexTtl     seconds the index keys live on
--        outcomes...  then, for each outcome:
--          id         the task's id
--          token      the lease token its holder has
--          record     its encoded final record
--          retryId    the id of its retry, or '' (then the next five are '')
--          retryDue   when the retry is due, in seconds
--          retryQueued  the retry's timeQueued (its place in the search index)
--          retryRecord  the retry's encoded record
--          retryLimit   the retry's maxConcurrency and priority (enqueue.lua)
--          retryName    the retry's job's name
-- REPLY  per outcome, in order: 1 written, 0 when its lease was lost
-- USES   _helpers.lua

local now, channel, expires, only_expired = tonumber(A.now), A.channel, A.expires, A.onlyExpired == '1'
local index_ttl = A.indexTtl
local out = {}
for n, outcome in ipairs(A.outcomes) do
  local id, token, payload = outcome.id, outcome.token, outcome.record
  local index = K.indexes[n]
  if holds(id, token, now, only_expired) then
    end_lease(id)
    finalize(id, payload, expires)
    if index then redis.call('EXPIRE', index, index_ttl) end
    if outcome.retryId ~= '' then
      enqueue(now, channel, outcome.retryId, tonumber(outcome.retryDue), outcome.retryQueued,
        outcome.retryRecord, outcome.retryLimit, outcome.retryName)
    end
    out[#out + 1] = 1
  else
    out[#out + 1] = 0
  end
end
flush(channel)
return out
