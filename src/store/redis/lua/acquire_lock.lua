-- Takes a named lock that is free or expired, or renews ours.
--
-- KEYS   lock         the lock, holding '<owner>\t<held until>'
-- ARGV   owner        who takes it
--        now          the store's clock, in seconds
--        heldUntil    when it ends, on the store's clock
--        ttl          milliseconds for Redis to drop the key
-- REPLY  1 taken or renewed, 0 held by another owner

local held = redis.call('GET', K.lock)
if held then
  local tab = string.find(held, '\t')
  local owner, ends = string.sub(held, 1, tab - 1), tonumber(string.sub(held, tab + 1))
  if owner ~= A.owner and ends > tonumber(A.now) then return 0 end
end
redis.call('SET', K.lock, A.owner .. '\t' .. A.heldUntil, 'PX', A.ttl)
return 1
