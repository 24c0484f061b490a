/**
 * The status history of the embedded store: its counts are written by the
 * transactions that end tasks (`StoreContext.taskEnded`), one row per
 * status a minute in `status_minutes` and one per status in
 * `status_totals`; here they are read, and the minutes past 24 hours
 * pruned (by reclaim, at most once a minute: a prune costs no task
 * anything).
 *
 * Invariants: totals are never pruned, nor touched by a flush, an expiry
 * or a delete of tasks; a read is one snapshot (one read transaction).
 * @module
 */
import {
  addCount,
  checkHistoryOptions,
  HISTORY_MINUTES_MAX,
  minuteOf,
  windowMinutes,
} from "../status_history.ts";
import type { StatusHistory } from "../store.ts";
import type { StoreContext } from "./context.ts";

type CountRow = { status: string; count: number };

/** The totals, and the counts of each minute of the window asked for. */
export function readStatusHistory(
  ctx: StoreContext,
  options?: unknown,
): StatusHistory {
  const minutes = checkHistoryOptions(options);
  const starts = windowMinutes(ctx.now(), minutes);
  const byMinute = new Map(
    starts.map((minute) => [minute, {} as Record<string, number>]),
  );
  const totals: Record<string, number> = {};
  // Both reads in one transaction: totals and minutes of one moment.
  ctx.db.exec("BEGIN");
  try {
    const rows = ctx.sql.minutesSince.all(starts[0]) as unknown[] as Array<
      CountRow & { minute: number }
    >;
    for (const row of rows) {
      const counts = byMinute.get(row.minute);
      if (counts) addCount(counts, row.status, row.count);
    }
    for (const row of ctx.sql.totals.all() as unknown[] as CountRow[]) {
      addCount(totals, row.status, row.count);
    }
  } finally {
    ctx.db.exec("COMMIT");
  }
  return {
    totals,
    minutes: [...byMinute].map(([minute, counts]) => ({ minute, counts })),
  };
}

/** When each store last pruned its minutes (store clock). */
const lastPrunes = new WeakMap<StoreContext, number>();

/**
 * Drops the minutes older than the 24 hours kept, in the open transaction;
 * once a minute at most (a minute has ended since the last prune).
 */
export function pruneStatusMinutes(ctx: StoreContext, now: number): void {
  if (now - (lastPrunes.get(ctx) ?? -Infinity) < 60) return;
  lastPrunes.set(ctx, now);
  ctx.sql.pruneMinutes.run(minuteOf(now) - (HISTORY_MINUTES_MAX - 1) * 60);
}
