-- Frees a named lock if its owner holds it.
--
-- KEYS   lock         the lock, holding '<owner>\t<held until>'
-- ARGV   owner        who frees it
-- REPLY  1 freed, 0 not held by this owner

local held = redis.call('GET', K.lock)
if held and string.sub(held, 1, string.find(held, '\t') - 1) == A.owner then
  return redis.call('DEL', K.lock)
end
return 0
