-- Pauses or resumes a schedule: its version goes up, and a resume sets its
-- `since` to now (runs due while it was paused are skipped).
--
-- KEYS   states       HASH: schedule id -> its state (see schedules.ts)
-- ARGV   id           the schedule's id
--        paused       1 to pause, 0 to resume
--        now          the store's clock, in seconds
-- REPLY  1 changed, 0 when it was so already, -1 no such schedule

local state = redis.call('HGET', K.states, A.id)
if not state then return -1 end
local version, runs, lastDue, paused, since, created =
  string.match(state, '^([^\t]*)\t([^\t]*)\t([^\t]*)\t([^\t]*)\t([^\t]*)\t([^\t]*)$')
if paused == A.paused then return 0 end
if A.paused == '0' then since = A.now end
redis.call('HSET', K.states, A.id, table.concat(
  { tonumber(version) + 1, runs, lastDue, A.paused, since, created }, '\t'))
return 1
