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
import { type QueueKeys, queueKeys } from "./scripts.ts";

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
    inbox: (waiter) => `${prefix}inbox:${waiter}`,
    workers: {
      beats: `${prefix}{workers}:beats`,
      status: `${prefix}{workers}:status`,
    },
    tasksPattern: `${prefix}*:tasks`,
    searchPattern: `${prefix}*:search`,
  };
}
