-- Takes a schedule's run of a due time, as a compare-and-set: only while
-- its version and run count are those the caller read, it is not paused,
-- and the due time is after its last one; then its runs go up by one and
-- its last due time is this one.
--
-- KEYS   states       HASH: schedule id -> its state (see schedules.ts)
-- ARGV   id           the schedule's id
--        due          the run's due time, in seconds
--        version      the version the caller read
--        runs         the run count the caller read
-- REPLY  1 taken, 0 not

local state = redis.call('HGET', K.states, A.id)
if not state then return 0 end
local version, runs, lastDue, paused, since, created =
  string.match(state, '^([^\t]*)\t([^\t]*)\t([^\t]*)\t([^\t]*)\t([^\t]*)\t([^\t]*)$')
if version ~= A.version or runs ~= A.runs or paused ~= '0' then return 0 end
if lastDue ~= '' and tonumber(lastDue) >= tonumber(A.due) then return 0 end
redis.call('HSET', K.states, A.id, table.concat(
  { version, tonumber(runs) + 1, A.due, paused, since, created }, '\t'))
return 1
