-- Records a member of a group (one HASH: member index → encoded value)
-- unless its index is there (the first value is kept), keeps the group
-- `ttl` seconds from now, and answers with the values of members 0 to
-- total - 1 once all of them are there.
--
-- KEYS   group        the group's HASH
-- ARGV   index        the member's index, from 0
--        total        how many members the group has
--        value        the member's encoded value
--        ttl          seconds the group is kept after this record
-- REPLY  the values of members 0 to total - 1, in order, once all are
--        there; else nil

local total = tonumber(A.total)
redis.call('HSETNX', K.group, A.index, A.value)
redis.call('EXPIRE', K.group, A.ttl)
if redis.call('HLEN', K.group) < total then return nil end
-- Read whole (no unpack of `total` fields: Lua's stack would bound it).
local all, by_index, values = redis.call('HGETALL', K.group), {}, {}
for i = 1, #all, 2 do by_index[all[i]] = all[i + 1] end
for i = 1, total do
  values[i] = by_index[tostring(i - 1)]
  if not values[i] then return nil end
end
return values
