/**
 * The status history of the Redis store, read: each queue keeps its own in
 * its `history` hash (written by the scripts that end its tasks, see
 * `_helpers.lua`), on the queue's Cluster slot; a read sums them over the
 * queues of `<ns>:counted` and the registry, with one HMGET a queue, all
 * pipelined (on a Cluster, each sent to the queue's node).
 *
 * Invariants: a minute's counts are read only from a slot stamped with
 * that minute (a slot stamped otherwise is a day old, or never written:
 * zero); queues that share keys (`app` and `{app}`) are read once; the
 * totals are never dropped (no script deletes `history`).
 * @module
 */
import {
  addCount,
  checkHistoryOptions,
  COUNTED_STATUSES,
  HISTORY_MINUTES_MAX,
  windowMinutes,
} from "../status_history.ts";
import type { StatusHistory } from "../store.ts";
import type { RedisContext } from "./context.ts";
import type { Registry } from "./registry.ts";
import { bytesOrNil, list } from "./replies.ts";

const STATUSES = [...COUNTED_STATUSES.values()];

/** The totals and the counts of each minute of the window asked for. */
export async function redisStatusHistory(
  ctx: RedisContext,
  registry: Registry,
  options?: unknown,
): Promise<StatusHistory> {
  const minutes = checkHistoryOptions(options);
  const starts = windowMinutes(ctx.now(), minutes);
  // The fields of one queue's hash: each minute's stamp then its counts,
  // then the totals.
  const fields: string[] = [];
  for (const minute of starts) {
    const slot = (minute / 60) % HISTORY_MINUTES_MAX;
    fields.push(`m:${slot}`, ...STATUSES.map((status) => `${slot}:${status}`));
  }
  fields.push(...STATUSES.map((status) => `all:${status}`));
  const keys = new Set(
    (await registry.counted()).map((queue) => ctx.keys.queue(queue).history),
  );
  const what = "HMGET of a status history";
  const replies = await Promise.all(
    [...keys].map(async (key) =>
      list(await ctx.topology.send(["HMGET", key, ...fields]), what)
    ),
  );
  const counts = starts.map(() => ({} as Record<string, number>));
  const totals: Record<string, number> = {};
  const step = 1 + STATUSES.length;
  for (const values of replies) {
    const read = (at: number) => {
      const value = bytesOrNil(values[at], what, at);
      return value === null ? 0 : Number(value.toString());
    };
    starts.forEach((minute, i) => {
      if (read(i * step) !== minute) return;
      STATUSES.forEach((status, j) => {
        addCount(counts[i], status, read(i * step + 1 + j));
      });
    });
    const base = starts.length * step;
    STATUSES.forEach((status, j) => addCount(totals, status, read(base + j)));
  }
  return {
    totals,
    minutes: starts.map((minute, i) => ({ minute, counts: counts[i] })),
  };
}
