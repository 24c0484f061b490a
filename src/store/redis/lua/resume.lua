-- Resumes a paused queue: drops its `paused` key, and wakes a waiting
-- worker through its marker when it holds tasks ('r' when some are ready,
-- else 'd': a delayed one, whose due time the worker then learns); a
-- worker whose claim fills up wakes the next one (claim.lua), so a long
-- queue is taken by every waiting worker. Publishes `resumed` with the
-- queue's name when it resumed it.
--
-- KEYS   @queue
-- ARGV   channel      the channel of queue events
--        name         the queue's name, encoded as the event's data
-- REPLY  1 resumed, 0 when it was not paused (nothing changed)
-- USES   _helpers.lua

if redis.call('DEL', K.paused) == 0 then return 0 end
if more_ready(true) then
  mark()
elseif redis.call('ZCARD', K.delayed) > 0 then
  mark('d')
end
redis.call('PUBLISH', A.channel, 'resumed\n' .. A.name)
return 1
