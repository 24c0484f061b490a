-- Pauses a queue: its `paused` key holds when, and while it exists claims
-- skip the queue (claim.lua), the enqueue script hands none of its tasks
-- over, and no marker wakes a worker for them (`mark` in _helpers.lua).
-- Its marker goes, so that no worker blocked on it wakes for tasks it may
-- not take. Running tasks go on; queued ones keep their place. Publishes
-- `paused` with the queue's name when it paused it.
--
-- KEYS   @queue
-- ARGV   now          the store's clock, in seconds: when it was paused
--        channel      the channel of queue events
--        name         the queue's name, encoded as the event's data
-- REPLY  1 paused, 0 when it was paused already (nothing changed)

if not redis.call('SET', K.paused, A.now, 'NX') then return 0 end
redis.call('DEL', K.marker)
redis.call('PUBLISH', A.channel, 'paused\n' .. A.name)
return 1
