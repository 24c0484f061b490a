-- Stores the final record of a task that never ran, unless a task of its
-- id is stored: in this queue or, on a single server, in another queue of
-- the registry (queued, running, or finished and kept; a finished one past
-- its retention is gone, and dropped here when it is this queue's, as
-- enqueue_unique.lua does). Then nothing is written nor published. Else it
-- writes what a finished task leaves (finalize: the done record, its
-- expiry, its count in the status history; and its entry in the search
-- index), and publishes `done`.
-- Another queue's keys are named here from the namespace, as queueKeys
-- names them.
--
-- KEYS   @queue
-- ARGV   now          the store's clock, in seconds
--        channel      the channel of task events
--        queue        the queue's name
--        namespace    the store's namespace on a single server, else ''
--        id           the task's id
--        queued       its timeQueued: its place in the search index
--        record       its encoded final record
--        status       its status's name (FAILURE...), counted; '' for none
--        expires      when the record is dropped
-- REPLY  1 written; or the stored record of the task that is there
-- USES   _helpers.lua

local now, id = tonumber(A.now), A.id
local found = stored_by_id(now, id, A.queue, A.namespace)
if found then return found[1] end
finalize(now, id, A.record, A.expires, A.status)
searched[#searched + 1] = A.queued
searched[#searched + 1] = id
flush(A.channel)
return 1
