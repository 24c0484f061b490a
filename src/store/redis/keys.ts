/**
 * The key layout of the Redis store: the name of every Redis key and pub/sub
 * channel the store of a namespace uses, built here and nowhere else in
 * TypeScript, for the store and for the tests that read or write its keys.
 * Pure: names only, no I/O.
 *
 * - A queue's keys are {@linkcode queueKeys} (`<ns>:{<queue>}:<name>`, the
 *   scripts' `@queue` KEYS, one Cluster slot per queue).
 * - Two names are also built by the Lua scripts from the namespace they are
 *   given (`claim.lua`, `enqueue.lua`): `waiting` and `inbox`. Change them
 *   there too, or a worker waiting on a single server is never handed tasks.
 *   `stored_by_id` in `_helpers.lua` (for `enqueue_unique.lua` and
 *   `settle.lua`) builds another queue's keys as `queueKeys` does (to find
 *   a task of the same id there): change them there too.
 * - `_helpers.lua` builds the rate limit windows of a queue from its
 *   `limits` key: `<limits>:rate:<job>[\n<key>]` (same hash tag).
 * - Data already in Redis is read by these names: changing one is a change
 *   of the store's format.
 * @module
 */

/**
 * The names of a queue's keys, in KEYS order (`@queue` in a header), and
 * the suffixes of their Redis keys.
 */
export const QUEUE_KEYS = [
  "ready", // LIST of ids, LPUSH in, RPOP out
  "delayed", // ZSET id → due
  "running", // ZSET id → lease end
  "tasks", // HASH id → record of queued and running tasks
  "leases", // HASH id → token
  "started", // HASH id → start info
  "redeliveries", // HASH id → lease expiries so far
  "limits", // HASH id → "limit\tname" or "limit\tname\tpriority"; '#seq'
  "active", // HASH job name → running count
  "done", // HASH id → final record
  "expiry", // ZSET id → when to drop
  "marker", // LIST: "tasks may be ready"
  "revoke", // SET of running ids to stop
  "holding", // SET of ids holding a concurrency slot
  "waiters", // ZSET waiter id → when its registration ends
  // ZSET id → timeQueued of every task with a record here (queued, running,
  // finished and kept): the search index, walked newest first.
  "search",
  // STRING: when the queue was paused, while it is (claims skip it)
  "paused",
  // prefix of STRING keys <dedupe>:<key> → "<task id>\t<until>" (with a TTL):
  // the task holding a dedupe key (enqueue_unique.lua)
  "dedupe",
  // ZSET id → -priority × 2^40 + seq: the due tasks with a priority (not 0),
  // highest first, first in first out within one (take_ready, _helpers.lua);
  // their priority is also in `limits`, whose field '#seq' counts the seq
  "prio",
  // HASH: the status history (_helpers.lua): 'all:<STATUS>' → tasks ended
  // with it since the first; a ring of 1440 minutes, 'm:<slot>' → the
  // minute's start (Unix seconds) and '<slot>:<STATUS>' → its count, slot
  // = minute / 60 mod 1440. Never expires, nor dropped with the queue.
  "history",
] as const;

/** A queue's keys by name. */
export type QueueKeys = Readonly<Record<typeof QUEUE_KEYS[number], string>>;

/** The keys and channels of the Redis store of one namespace. */
export interface RedisKeys {
  /** The keys of a queue, by name; they share the queue's hash tag. */
  queue(name: string): QueueKeys;
  /** The pub/sub channel of a store channel (`task`, `control`, ...). */
  channel(name: string): string;
  /** STRING: the holder of a named lock. */
  lock(name: string): string;
  /**
   * HASH member index → encoded value: the members of a group recorded so
   * far (`joinGroup`), kept `resultTtl` after the last one.
   */
  group(name: string): string;
  /** HASH waiter id → registration of a worker waiting for tasks. */
  readonly waiting: string;
  /** LIST: the tasks handed over to a waiter, under their leases. */
  inbox(waiter: string): string;
  /**
   * ZSET: queue name → when a producer last registered it (the registry of
   * queues: every queue that may hold records; see `RedisStore`).
   */
  readonly queues: string;
  /**
   * SET of queue names: every queue ever registered, never dropped (the
   * registry forgets empty queues): where the status history is read.
   */
  readonly counted: string;
  /** The workers' beats (ZSET) and statuses (HASH), on one Cluster slot. */
  readonly workers: { readonly beats: string; readonly status: string };
  /** The SCAN pattern of every queue's `tasks` hash (and of other keys). */
  readonly tasksPattern: string;
  /** The SCAN pattern of every queue's `search` index (and of other keys). */
  readonly searchPattern: string;
}

/**
 * The key layout of the store of `namespace` (letters, digits, '_', '.'
 * and '-': nothing in it needs escaping, in a key or in a SCAN pattern).
 */
export function redisKeys(namespace: string): RedisKeys {
  const prefix = `${namespace}:`;
  // Built once a queue: a queue's keys are named on every call of a script.
  const queues = new Map<string, QueueKeys>();
  return {
    queue: (name) => {
      let keys = queues.get(name);
      if (!keys) {
        keys = queueKeys(namespace, name);
        if (queues.size >= 10_000) queues.clear();
        queues.set(name, keys);
      }
      return keys;
    },
    channel: (name) => `${prefix}${name}`,
    lock: (name) => `${prefix}lock:${name}`,
    group: (name) => `${prefix}group:{${name}}`,
    waiting: `${prefix}waiting`,
    queues: `${prefix}queues`,
    counted: `${prefix}counted`,
    inbox: (waiter) => `${prefix}inbox:${waiter}`,
    workers: {
      beats: `${prefix}{workers}:beats`,
      status: `${prefix}{workers}:status`,
    },
    tasksPattern: `${prefix}*:tasks`,
    searchPattern: `${prefix}*:search`,
  };
}

/**
 * The keys of a queue, by name. They share a hash tag: the queue's own
 * `{tag}` when its name has one (so queues `{app}.high` and `{app}.low`
 * share a slot), else the queue name.
 */
export function queueKeys(namespace: string, queue: string): QueueKeys {
  const tagged = /\{[^}]+\}/.test(queue) ? queue : `{${queue}}`;
  return Object.fromEntries(
    QUEUE_KEYS.map((name) => [name, `${namespace}:${tagged}:${name}`]),
  ) as Record<typeof QUEUE_KEYS[number], string>;
}

/**
 * The queue whose key `name` (one of {@linkcode QUEUE_KEYS}) is `key`, or
 * undefined when `key` is not that key of a queue of `namespace`: the
 * inverse of {@linkcode queueKeys}. Queues `app` and `{app}` share their
 * keys (both are tagged `{app}`); such a key is named `app`.
 */
export function queueOfKey(
  namespace: string,
  key: string,
  name: typeof QUEUE_KEYS[number],
): string | undefined {
  const prefix = `${namespace}:`;
  const suffix = `:${name}`;
  if (!key.startsWith(prefix) || !key.endsWith(suffix)) return undefined;
  const middle = key.slice(prefix.length, key.length - suffix.length);
  const names = middle.startsWith("{") && middle.endsWith("}")
    ? [middle.slice(1, -1), middle]
    : [middle];
  return names.find((queue) =>
    queue !== "" && queueKeys(namespace, queue)[name] === key
  );
}
