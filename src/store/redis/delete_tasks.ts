/**
 * Deleting finished tasks from the Redis store (`deleteTasks`). A task has
 * no key of its own, so every queue of the registry is looked in: its
 * records of the ids are read (HMGET of `done`, pipelined for all queues),
 * the workflow members left out, and `delete_tasks.lua` deletes the others
 * that are still finished and kept, with their expiry and search entries,
 * atomically on the queue's slot.
 *
 * Invariants: a queued, running or unknown id, one past its retention and
 * a workflow member are left alone and not counted; an id is counted once;
 * the status history is not changed.
 * @module
 */
import { checkDeleteIds, deletableRecord } from "../_task_deletion.ts";
import type { RedisContext } from "./context.ts";
import type { QueueKeys } from "./keys.ts";
import { decodeRecord } from "./records.ts";
import type { Registry } from "./registry.ts";
import { bytesOrNil, list } from "./replies.ts";

/** Ids sent in one HMGET and one script call. */
const CHUNK = 1000;

/** Deletes the finished tasks of `ids`; resolves with how many. */
export async function redisDeleteTasks(
  ctx: RedisContext,
  registry: Registry,
  ids: readonly string[],
): Promise<number> {
  const unique = checkDeleteIds(ids);
  if (unique.length === 0) return 0;
  // Queues that share keys (`app` and `{app}`) are looked in once.
  const queues = new Map<string, QueueKeys>();
  for (const queue of await registry.queues()) {
    const keys = ctx.keys.queue(queue);
    queues.set(keys.done, keys);
  }
  const deleted = new Set<string>();
  await Promise.all([...queues.values()].map(async (keys) => {
    for (let at = 0; at < unique.length; at += CHUNK) {
      const chunk = unique.slice(at, at + CHUNK);
      const what = "HMGET of finished tasks";
      const records = list(
        await ctx.topology.send(["HMGET", keys.done, ...chunk]),
        what,
      );
      const wanted = chunk.filter((_, i) => {
        const payload = bytesOrNil(records[i], what, i);
        if (payload === null) return false;
        const decoded = decodeRecord(ctx.codec, payload);
        return deletableRecord(decoded.ok ? decoded.record : undefined);
      });
      if (wanted.length === 0) continue;
      const gone = await ctx.scripts.deleteTasks(keys, {
        now: ctx.now(),
        ids: wanted,
      });
      for (const id of gone) deleted.add(id);
    }
  }));
  return deleted.size;
}
