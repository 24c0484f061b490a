-- The leases one claim took in a queue: those whose token starts with its
-- prefix ('<queue>\n<prefix>:', as claim.lua names them). For a claim whose
-- reply was lost with its connection: the claimer never got those tasks,
-- and gives them back. Reads every lease of the queue: run only then.
--
-- KEYS   @queue
-- ARGV   tokenPrefix  the lost claim's token prefix in this queue
-- REPLY  id, token, id, token... of the leases it took that still hold

local found, prefix = {}, A.tokenPrefix
local leases = redis.call('HGETALL', K.leases)
for i = 1, #leases, 2 do
  if string.sub(leases[i + 1], 1, #prefix) == prefix then
    found[#found + 1] = leases[i]
    found[#found + 1] = leases[i + 1]
  end
end
return found
