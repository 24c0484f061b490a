/**
 * Garbage injection: a malformed task record written straight into a store,
 * bypassing `enqueue`, as a foreign or broken writer might. It is queued and
 * due now, as `enqueue` would leave it, so the next claim takes it: the
 * store tests check it comes back malformed, the task tests that it never
 * kills a worker.
 * @module
 */
import { DatabaseSync } from "node:sqlite";
import { redisKeys } from "../src/store/redis/keys.ts";
import { parseRedisUrl } from "../src/store/redis/redis_url.ts";
import type { Store } from "../src/store/store.ts";
import type { RedisServer } from "./_redis.ts";

/** What the malformed record is filed under. */
export interface GarbageTask {
  id: string;
  name: string;
  queue: string;
}

/** Bytes that no serializer reads as a task record. */
export const NOT_A_TASK: Uint8Array = new TextEncoder().encode("{not a task");

/** Writes `payload` as a queued row of the SQLite store file at `path`. */
export function injectSqliteGarbage(
  path: string,
  task: GarbageTask,
  payload: Uint8Array,
): Promise<void> {
  const db = new DatabaseSync(path);
  try {
    // The store's processes may hold the file: wait for them, as they do.
    db.exec("PRAGMA busy_timeout = 5000");
    db.prepare(
      `INSERT INTO tasks (id, name, queue, state, due_at, seq, payload)
       VALUES (?, ?, ?, 'queued', 0,
       (SELECT coalesce(max(seq), 0) + 1 FROM tasks), ?)`,
    ).run(task.id, task.name, task.queue, payload);
  } finally {
    db.close();
  }
  return Promise.resolve();
}

/**
 * Writes `payload` as a ready task of the Redis store of `namespace` on
 * `redis`, its queue registered (so `get` finds it), and wakes a worker
 * waiting on its queue.
 */
export async function injectRedisGarbage(
  redis: Pick<RedisServer, "send">,
  namespace: string,
  task: GarbageTask,
  payload: Uint8Array,
): Promise<void> {
  const keys = redisKeys(namespace);
  const queue = keys.queue(task.queue);
  await redis.send([
    "ZADD",
    keys.queues,
    String(Date.now() / 1000),
    task.queue,
  ]);
  await redis.send(["HSET", queue.tasks, task.id, payload]);
  await redis.send(["LPUSH", queue.ready, task.id]);
  await redis.send(["LPUSH", queue.marker, "r"]);
}

/** The file of a SQLite store (`sqlite:<path>`). */
export function sqlitePathOf(store: Store): string {
  return store.url.slice("sqlite:".length);
}

/** The namespace of a Redis store (`redis://…?namespace=<ns>`). */
export function namespaceOf(store: Store): string {
  return parseRedisUrl(store.url).namespace;
}

/**
 * Writes `payload` into a SQLite store or a Redis store on `redis`, told
 * apart by its URL, as the store contract's `injectGarbage`.
 */
export async function injectGarbage(
  store: Store,
  task: GarbageTask,
  payload: Uint8Array,
  redis?: RedisServer,
): Promise<void> {
  if (store.url.startsWith("sqlite:")) {
    return await injectSqliteGarbage(sqlitePathOf(store), task, payload);
  }
  if (!redis || new URL(store.url).port !== String(redis.port)) {
    throw new Error(`No way to write garbage into ${store.url}`);
  }
  await injectRedisGarbage(redis, namespaceOf(store), task, payload);
}
