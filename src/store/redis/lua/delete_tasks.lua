-- Deletes finished tasks of the queue by id: each whose record is in `done`
-- and kept (its expiry not passed), and that is neither queued nor running,
-- goes with its expiry and its entry in the search index (a dedupe key it
-- held holds no more: a key holds only while its task is stored). The
-- status history is not changed. The caller read the records first and
-- left out the workflow members.
--
-- KEYS   @queue
-- ARGV   now          the store's clock, in seconds
--        ids...       then the ids of the tasks to delete
-- REPLY  the ids it deleted

local now, ids, out = tonumber(A.now), A.ids, {}
for at = 1, #ids, 1000 do
  local chunk = {unpack(ids, at, math.min(at + 999, #ids))}
  local done = redis.call('HMGET', K.done, unpack(chunk))
  local live = redis.call('HMGET', K.tasks, unpack(chunk))
  local expiry = redis.call('ZMSCORE', K.expiry, unpack(chunk))
  local gone = {}
  for i, id in ipairs(chunk) do
    if done[i] and not live[i] and (not expiry[i] or tonumber(expiry[i]) >= now) then
      gone[#gone + 1] = id
    end
  end
  if #gone > 0 then
    redis.call('HDEL', K.done, unpack(gone))
    redis.call('ZREM', K.expiry, unpack(gone))
    redis.call('ZREM', K.search, unpack(gone))
    for _, id in ipairs(gone) do out[#out + 1] = id end
  end
end
return out
