-- Stores a schedule's definition: a new one with no run, an existing one
-- keeping its runs, last due time and pause; either way its version goes
-- up and its `since` is now.
--
-- KEYS   definitions  HASH: schedule id -> its encoded definition
--        states       HASH: schedule id -> its state (see schedules.ts)
-- ARGV   id           the schedule's id
--        definition   its encoded definition
--        now          the store's clock, in seconds
-- REPLY  1 created, 0 replaced

redis.call('HSET', K.definitions, A.id, A.definition)
local state = redis.call('HGET', K.states, A.id)
if not state then
  redis.call('HSET', K.states, A.id, '1\t0\t\t0\t' .. A.now .. '\t' .. A.now)
  return 1
end
local version, runs, lastDue, paused, _, created =
  string.match(state, '^([^\t]*)\t([^\t]*)\t([^\t]*)\t([^\t]*)\t([^\t]*)\t([^\t]*)$')
redis.call('HSET', K.states, A.id, table.concat(
  { tonumber(version) + 1, runs, lastDue, paused, A.now, created }, '\t'))
return 0
