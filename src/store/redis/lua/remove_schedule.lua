-- Deletes a schedule: its definition and its state.
--
-- KEYS   definitions  HASH: schedule id -> its encoded definition
--        states       HASH: schedule id -> its state
-- ARGV   id           the schedule's id
-- REPLY  1 deleted, 0 no such schedule

local had = redis.call('HDEL', K.states, A.id)
redis.call('HDEL', K.definitions, A.id)
return had
