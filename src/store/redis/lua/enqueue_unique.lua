-- Queues one task unless one is there already, in one step: a task of the
-- same id stored in this queue or, on a single server, in another queue of
-- the registry (queued, running, or finished and kept; a finished one past
-- its retention is gone, and dropped here when it is this queue's); or,
-- with a dedupe key, a task of this queue, still stored, that holds the key
-- (the string '<dedupe>:<key>' = '<id>\t<until>', held until the store's
-- clock passes `until`; it expires in Redis too, as garbage). Then nothing
-- is written nor published. Else it queues the task as enqueue.lua does
-- (a waiting worker wakes through the queue's marker: no hand-over) and
-- takes the key. Another queue's keys are named here from the namespace,
-- as queueKeys names them (single server only, as the hand-over's).
--
-- KEYS   @queue
-- ARGV   now          the store's clock, in seconds
--        channel      the channel of task events
--        queue        the queue's name
--        namespace    the store's namespace on a single server, else ''
--        id           the task's id
--        due          when it is due, in seconds
--        queued       its timeQueued: its place in the search index
--        record       its encoded record
--        limit        its maxConcurrency, then '\t' and its priority, if any
--        name         its job's name
--        dedupeKey    the dedupe key, or '' for none
--        dedupeTtl    seconds the key is held, or '' for none
-- REPLY  {'queued'}; or {'id' or 'dedupe', record, start info or ''} of the
--        task that is there
-- USES   _helpers.lua

local now, id = tonumber(A.now), A.id
local found = stored_by_id(now, id, A.queue, A.namespace)
if found then return {'id', found[1], found[2]} end
if A.dedupeKey ~= '' then
  local key = K.dedupe .. ':' .. A.dedupeKey
  local held = redis.call('GET', key)
  local tab = held and string.find(held, '\t', 1, true)
  if tab and (tonumber(string.sub(held, tab + 1)) or 0) > now then
    found = stored(now, K, string.sub(held, 1, tab - 1), true)
    if found then return {'dedupe', found[1], found[2]} end
  end
  local ttl = tonumber(A.dedupeTtl)
  redis.call('SET', key, id .. '\t' .. string.format('%.3f', now + ttl),
    'PX', math.ceil(ttl * 1000))
end
local wake = enqueue(now, {{id = id, due = A.due, queued = A.queued, record = A.record,
  limit = A.limit, name = A.name}})
if wake then mark(wake) end
flush(A.channel)
return {'queued'}
