/**
 * The Lua scripts of the Redis store: one per state transition, each
 * touching only the keys of one queue, all declared in KEYS (see
 * {@linkcode queueKeys}), so a queue lives on one Redis Cluster slot.
 *
 * KEYS, the same for every script:
 *  1 ready (LIST of ids, LPUSH in, RPOP out)   2 delayed (ZSET id → due)
 *  3 running (ZSET id → lease end)             4 tasks (HASH id → record)
 *  5 leases (HASH id → token)                  6 started (HASH id → start info)
 *  7 redeliveries (HASH id → count)            8 limits (HASH id → "limit\tname")
 *  9 active (HASH job name → running count)    10 done (HASH id → final record)
 *  11 expiry (ZSET id → when to drop)          12 marker (LIST: "tasks may be ready")
 *  13 revoke (SET of running ids to stop)     14 holding (SET of ids holding a slot)
 *
 * Messages are published as `<event>\n<encoded data>`.
 * @module
 */

/** Queues tasks given as groups of (id, due, record, limit, name). */
const ENQUEUE_BODY = `
-- Events are gathered and published at the end, one message per event name:
-- "<event>\\n<record>" for one, "*<event>\\n<list of records>" for many (a
-- JSON array, or a msgpack array, built from the encoded records).
local events, order = {}, {}
local function emit(event, payload)
  local list = events[event]
  if not list then
    list = {}
    events[event] = list
    order[#order + 1] = event
  end
  list[#list + 1] = payload
end
local function flush(channel)
  for _, event in ipairs(order) do
    local list = events[event]
    if #list == 1 then
      redis.call('PUBLISH', channel, event .. '\\n' .. list[1])
    else
      local n, body = #list, nil
      if string.byte(list[1], 1) == 123 then
        body = '[' .. table.concat(list, ',') .. ']'
      else
        local head
        if n < 16 then
          head = string.char(144 + n)
        elseif n < 65536 then
          head = string.char(220, math.floor(n / 256), n % 256)
        else
          head = string.char(221, math.floor(n / 16777216) % 256,
            math.floor(n / 65536) % 256, math.floor(n / 256) % 256, n % 256)
        end
        body = head .. table.concat(list)
      end
      redis.call('PUBLISH', channel, '*' .. event .. '\\n' .. body)
    end
  end
end
-- Wakes one waiting worker: 'r' when a task is ready, 'd' when a delayed
-- task is due before the others (the worker then learns when).
local function mark(kind)
  if redis.call('LLEN', KEYS[12]) == 0 then redis.call('LPUSH', KEYS[12], kind or 'r') end
end
-- Queues one task; wakes a waiting worker when it is due now, or due before
-- every other delayed task (the worker then waits for it).
local function enqueue(now, channel, id, due, payload, limit, name)
  redis.call('HSET', KEYS[4], id, payload)
  if limit ~= '' then redis.call('HSET', KEYS[8], id, limit .. '\\t' .. name) end
  if due > now then
    local first = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
    redis.call('ZADD', KEYS[2], due, id)
    if not first[2] or due < tonumber(first[2]) then mark('d') end
  else
    redis.call('LPUSH', KEYS[1], id)
    mark()
  end
  emit('queued', payload)
end
-- True when token holds the lease of id (and, if asked, the lease expired).
local function holds(id, token, now, only_expired)
  if redis.call('HGET', KEYS[5], id) ~= token then return false end
  return not only_expired or tonumber(redis.call('ZSCORE', KEYS[3], id) or now) < now
end
-- Records the final record of a task that is no longer queued or running,
-- kept until expires, and announces it.
local function finalize(id, payload, expires)
  redis.call('HDEL', KEYS[4], id)
  redis.call('HDEL', KEYS[7], id)
  redis.call('HDEL', KEYS[8], id)
  redis.call('HSET', KEYS[10], id, payload)
  redis.call('ZADD', KEYS[11], expires, id)
  emit('done', payload)
end
-- Gives back the concurrency slot a running task holds, if it holds one.
local function drop_slot(id)
  if redis.call('SREM', KEYS[14], id) == 1 then
    local limit = redis.call('HGET', KEYS[8], id)
    local name = string.sub(limit, string.find(limit, '\\t') + 1)
    if tonumber(redis.call('HINCRBY', KEYS[9], name, -1)) <= 0 then
      redis.call('HDEL', KEYS[9], name)
    end
  end
end
-- Ends the lease of a running task and gives back its slot.
local function end_lease(id)
  drop_slot(id)
  redis.call('ZREM', KEYS[3], id)
  redis.call('HDEL', KEYS[5], id)
  redis.call('HDEL', KEYS[6], id)
  redis.call('SREM', KEYS[13], id)
end
`;

/**
 * ARGV: now, channel, queue, then (id, due, record, limit, name)...; KEYS
 * after the queue's: the tasks' id index keys, on a single server.
 */
export const ENQUEUE = ENQUEUE_BODY + `
local now, channel, queue = tonumber(ARGV[1]), ARGV[2], ARGV[3]
for i = 4, #ARGV, 5 do
  local id = ARGV[i]
  if redis.call('HEXISTS', KEYS[4], id) == 1 or redis.call('HEXISTS', KEYS[10], id) == 1 then
    return redis.error_reply('PQDUPLICATE task ' .. id .. ' exists already')
  end
end
for i = 4, #ARGV, 5 do
  enqueue(now, channel, ARGV[i], tonumber(ARGV[i + 1]), ARGV[i + 2], ARGV[i + 3], ARGV[i + 4])
  -- On a single server the id index keys come as KEYS[15...] (on a
  -- Cluster they live on other slots and the client writes them).
  local index = KEYS[15 + (i - 4) / 5]
  if index then redis.call('SET', index, queue) end
end
flush(channel)
return (#ARGV - 3) / 5
`;

/**
 * ARGV: now, max, lease end, token prefix, start info, scan limit.
 * Returns { next due or '', id, token, redeliveries, record, ... }.
 */
export const CLAIM = ENQUEUE_BODY + `
local now, max, lease_end = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3]
local prefix, start_info, scan = ARGV[4], ARGV[5], tonumber(ARGV[6])
-- An expired lease holds no concurrency slot, even before it is reclaimed.
for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', '(' .. ARGV[1], 'LIMIT', 0, 1000)) do
  drop_slot(id)
end
local due = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now, 'LIMIT', 0, 1000)
for i = #due, 1, -1 do redis.call('RPUSH', KEYS[1], due[i]) end
if #due > 0 then redis.call('ZREM', KEYS[2], unpack(due)) end
local out, held, claimed, scanned = {''}, {}, 0, 0
while claimed < max and scanned < scan do
  local id = redis.call('RPOP', KEYS[1])
  if not id then break end
  scanned = scanned + 1
  local payload = redis.call('HGET', KEYS[4], id)
  if payload then
    local take = true
    local limit = redis.call('HGET', KEYS[8], id)
    if limit then
      local tab = string.find(limit, '\\t')
      local name = string.sub(limit, tab + 1)
      local active = tonumber(redis.call('HGET', KEYS[9], name) or '0')
      if active >= tonumber(string.sub(limit, 1, tab - 1)) then
        take = false
        held[#held + 1] = id
      else
        redis.call('HINCRBY', KEYS[9], name, 1)
        redis.call('SADD', KEYS[14], id)
      end
    end
    if take then
      claimed = claimed + 1
      local token = prefix .. ':' .. claimed
      redis.call('HSET', KEYS[5], id, token)
      redis.call('ZADD', KEYS[3], lease_end, id)
      redis.call('HSET', KEYS[6], id, start_info)
      out[#out + 1] = id
      out[#out + 1] = token
      out[#out + 1] = redis.call('HGET', KEYS[7], id) or '0'
      out[#out + 1] = payload
    end
  end
end
for i = #held, 1, -1 do redis.call('RPUSH', KEYS[1], held[i]) end
if claimed == max and redis.call('LLEN', KEYS[1]) > 0 then mark() end
local next_due = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
if next_due[2] then out[1] = next_due[2] end
return out
`;

/** ARGV: lease end, then (id, token)... Returns 0 lost, 1 renewed, 2 revoke asked. */
export const RENEW = `
local out = {}
for i = 2, #ARGV, 2 do
  local id, token = ARGV[i], ARGV[i + 1]
  if redis.call('HGET', KEYS[5], id) == token then
    redis.call('ZADD', KEYS[3], 'XX', ARGV[1], id)
    out[#out + 1] = redis.call('SISMEMBER', KEYS[13], id) + 1
  else
    out[#out + 1] = 0
  end
end
return out
`;

/**
 * ARGV: now, channel, expires at, only if expired (1/0), index ttl, then
 * (id, token, record, retry id, retry due, retry record, retry limit, retry name)...
 * KEYS after the queue's: the outcomes' id index keys, on a single server.
 * Returns 1 per outcome written, 0 when its lease was lost.
 */
export const FINISH = ENQUEUE_BODY + `
local now, channel, expires, only_expired = tonumber(ARGV[1]), ARGV[2], ARGV[3], ARGV[4] == '1'
local index_ttl = ARGV[5]
local out = {}
for i = 6, #ARGV, 8 do
  local id, token, payload = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  local index = KEYS[15 + (i - 6) / 8]
  if holds(id, token, now, only_expired) then
    end_lease(id)
    finalize(id, payload, expires)
    if index then redis.call('EXPIRE', index, index_ttl) end
    if ARGV[i + 3] ~= '' then
      enqueue(now, channel, ARGV[i + 3], tonumber(ARGV[i + 4]), ARGV[i + 5], ARGV[i + 6], ARGV[i + 7])
    end
    out[#out + 1] = 1
  else
    out[#out + 1] = 0
  end
end
flush(channel)
return out
`;

/**
 * Puts leased tasks back at the head of their queue. ARGV: now, channel,
 * count a redelivery (1/0), only if expired (1/0), then (id, token)...
 * A task whose revoke was asked for must not run again: it keeps its lease
 * and comes back in the second list, for the client to end it REVOKED
 * (FINISH). Returns { ids released }, { (id, token, record)... revoked }.
 */
export const RELEASE = ENQUEUE_BODY + `
local now, channel = tonumber(ARGV[1]), ARGV[2]
local count, only_expired = ARGV[3] == '1', ARGV[4] == '1'
local released, revoked = {}, {}
for i = 5, #ARGV, 2 do
  local id, token = ARGV[i], ARGV[i + 1]
  if holds(id, token, now, only_expired) then
    if redis.call('SISMEMBER', KEYS[13], id) == 1 then
      revoked[#revoked + 1] = id
      revoked[#revoked + 1] = token
      revoked[#revoked + 1] = redis.call('HGET', KEYS[4], id) or ''
    else
      end_lease(id)
      if count then redis.call('HINCRBY', KEYS[7], id, 1) end
      redis.call('RPUSH', KEYS[1], id)
      emit('queued', redis.call('HGET', KEYS[4], id))
      released[#released + 1] = id
    end
  end
end
if #released > 0 then mark() end
flush(channel)
return {released, revoked}
`;

/**
 * Expired leases and retention. ARGV: now, limit. Drops finished tasks past
 * their time; returns (id, token, redeliveries, record, revoke asked 1/0)...
 * of expired leases.
 */
export const EXPIRED = `
local now, limit = tonumber(ARGV[1]), tonumber(ARGV[2])
local old = redis.call('ZRANGEBYSCORE', KEYS[11], '-inf', now, 'LIMIT', 0, 1000)
if #old > 0 then
  redis.call('HDEL', KEYS[10], unpack(old))
  redis.call('ZREM', KEYS[11], unpack(old))
end
local out = {}
for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', '(' .. now, 'LIMIT', 0, limit)) do
  out[#out + 1] = id
  out[#out + 1] = redis.call('HGET', KEYS[5], id) or ''
  out[#out + 1] = redis.call('HGET', KEYS[7], id) or '0'
  out[#out + 1] = redis.call('HGET', KEYS[4], id) or ''
  out[#out + 1] = redis.call('SISMEMBER', KEYS[13], id)
end
return out
`;

/**
 * ARGV: channel, expires at, id, the record as read, the revoked record.
 * Returns revoked, requested, finished, changed (read again) or unknown.
 */
export const REVOKE = ENQUEUE_BODY + `
local channel, expires, id, seen, revoked = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
if redis.call('HEXISTS', KEYS[5], id) == 1 then
  redis.call('SADD', KEYS[13], id)
  return 'requested'
end
if redis.call('HEXISTS', KEYS[10], id) == 1 then return 'finished' end
local payload = redis.call('HGET', KEYS[4], id)
if not payload then return 'unknown' end
if payload ~= seen then return 'changed' end
redis.call('LREM', KEYS[1], 0, id)
redis.call('ZREM', KEYS[2], id)
finalize(id, revoked, expires)
flush(channel)
return 'revoked'
`;

/** Drops every queued task of the queue; returns how many. */
export const FLUSH = `
local ids = redis.call('LRANGE', KEYS[1], 0, -1)
for _, id in ipairs(redis.call('ZRANGE', KEYS[2], 0, -1)) do ids[#ids + 1] = id end
for i = 1, #ids, 1000 do
  local chunk = {unpack(ids, i, math.min(i + 999, #ids))}
  redis.call('HDEL', KEYS[4], unpack(chunk))
  redis.call('HDEL', KEYS[7], unpack(chunk))
  redis.call('HDEL', KEYS[8], unpack(chunk))
end
redis.call('DEL', KEYS[1], KEYS[2])
return #ids
`;

/**
 * KEYS: the lock (holding "<owner>\t<until>"). ARGV: owner, now, until,
 * milliseconds for Redis to drop the key. Takes a free or expired lock, or
 * renews ours.
 */
export const ACQUIRE_LOCK = `
local held = redis.call('GET', KEYS[1])
if held then
  local tab = string.find(held, '\t')
  local owner, ends = string.sub(held, 1, tab - 1), tonumber(string.sub(held, tab + 1))
  if owner ~= ARGV[1] and ends > tonumber(ARGV[2]) then return 0 end
end
redis.call('SET', KEYS[1], ARGV[1] .. '\t' .. ARGV[3], 'PX', ARGV[4])
return 1
`;

/** KEYS: the lock. ARGV: owner. Frees it if the owner holds it. */
export const RELEASE_LOCK = `
local held = redis.call('GET', KEYS[1])
if held and string.sub(held, 1, string.find(held, '\t') - 1) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
`;

/**
 * A worker's beat. KEYS: beats (ZSET worker → alive until), status (HASH
 * worker → encoded status). ARGV: now, worker, until, status ('' when it
 * did not change). Returns the encoded statuses of the workers whose beat
 * expired, forgotten here so that one beater only reports each.
 */
export const BEAT = `
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[2])
if ARGV[4] ~= '' then redis.call('HSET', KEYS[2], ARGV[2], ARGV[4]) end
local dead = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[1], 'LIMIT', 0, 16)
local out = {}
for _, name in ipairs(dead) do
  out[#out + 1] = redis.call('HGET', KEYS[2], name) or ''
  redis.call('ZREM', KEYS[1], name)
  redis.call('HDEL', KEYS[2], name)
end
return out
`;

/**
 * Ends the leases of a dead worker's running tasks in one queue, for the
 * next reclaim. KEYS: the queue's. ARGV: the worker's name. Returns how
 * many leases it ended.
 */
export const EXPIRE_LEASES = `
local ended = 0
for _, id in ipairs(redis.call('ZRANGE', KEYS[3], 0, -1)) do
  local info = redis.call('HGET', KEYS[6], id)
  if info and cjson.decode(info)[2] == ARGV[1] then
    redis.call('ZADD', KEYS[3], 0, id)
    ended = ended + 1
  end
end
return ended
`;

/** The suffixes of a queue's keys, in KEYS order. */
const SUFFIXES = [
  "ready",
  "delayed",
  "running",
  "tasks",
  "leases",
  "started",
  "redeliveries",
  "limits",
  "active",
  "done",
  "expiry",
  "marker",
  "revoke",
  "holding",
] as const;

/**
 * The keys of a queue. They share a hash tag: the queue's own `{tag}` when
 * its name has one (so queues `{app}.high` and `{app}.low` share a slot),
 * else the queue name.
 */
export function queueKeys(namespace: string, queue: string): string[] {
  const tagged = /\{[^}]+\}/.test(queue) ? queue : `{${queue}}`;
  return SUFFIXES.map((suffix) => `${namespace}:${tagged}:${suffix}`);
}

/**
 * The queue whose `tasks` hash is `key`, or undefined when `key` is not the
 * `tasks` hash of a queue of `namespace`: the inverse of
 * {@linkcode queueKeys}. Queues `app` and `{app}` share their keys (both are
 * tagged `{app}`); such a key is named `app`.
 */
export function queueOfTasksKey(
  namespace: string,
  key: string,
): string | undefined {
  const prefix = `${namespace}:`;
  const suffix = ":tasks";
  if (!key.startsWith(prefix) || !key.endsWith(suffix)) return undefined;
  const middle = key.slice(prefix.length, key.length - suffix.length);
  const names = middle.startsWith("{") && middle.endsWith("}")
    ? [middle.slice(1, -1), middle]
    : [middle];
  return names.find((name) =>
    name !== "" && queueKeys(namespace, name)[3] === key
  );
}
