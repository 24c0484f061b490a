-- Stores how far a running task is, only while its lease is held: its
-- record (with the new progress) replaces the stored one, and `progress`
-- is published with the task as it reads now (STARTED, by its worker).
-- Only the lease holder writes a running task's record, so the client may
-- read it, change it and write it back here.
--
-- KEYS   @queue
-- ARGV   channel      the channel of task events
--        id           the task's id
--        token        the lease token its holder has
--        record       its encoded record with the progress, to store
--        event        its encoded record as published (STARTED)
-- REPLY  1 written, 0 when the lease was lost
-- USES   _helpers.lua

if not holds(A.id, A.token, 0, false) or redis.call('HEXISTS', K.tasks, A.id) == 0 then
  return 0
end
redis.call('HSET', K.tasks, A.id, A.record)
emit('progress', A.event)
flush(A.channel)
return 1
