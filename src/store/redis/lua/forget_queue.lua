-- Drops a queue from the registry of queues, only if no task was queued in
-- it since the caller read its entry (its score, the time of the last
-- registration, is unchanged): a producer that registers it again wins.
--
-- KEYS   registry     the registry of queues (ZSET queue → registered at)
-- ARGV   queue        the queue's name
--        registered   its score as the caller read it
-- REPLY  1 dropped, 0 registered again since (kept)

if redis.call('ZSCORE', K.registry, A.queue) ~= A.registered then return 0 end
redis.call('ZREM', K.registry, A.queue)
return 1
