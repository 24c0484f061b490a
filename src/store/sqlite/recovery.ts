/**
 * Recovery in the embedded store: the tasks of workers that died or
 * stalled. `reclaim` gives back the tasks of the queues it is given (of
 * every queue, given none) whose lease expired, or ends them; and it keeps
 * the whole file tidy: finished tasks past their retention, dedupe keys,
 * groups, rate limit starts, minutes of status history past 24 hours and
 * old events go, and the WAL is checkpointed
 * so an idle file does not grow. `expireLeases` ends at once the leases of
 * a worker known dead in the queues it is given, for the next reclaim.
 *
 * Invariants:
 * - A task whose lease expired runs again with one more redelivery, until
 *   it was redelivered more than `maxRedeliveries` times: then it ends
 *   FAILURE; a task whose revoke was asked for ends REVOKED.
 * - The reclaim of the leases is one transaction; the checkpoint after it
 *   waits for no one, and a busy file leaves it to the next reclaim.
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { RATE_LIMIT_PER_MAX } from "../../model/rate_limit.ts";
import { TaskStatus } from "../../model/status.ts";
import { afterLeaseExpired } from "../_reasons.ts";
import type { ReclaimReport } from "../store.ts";
import type { StoreContext } from "./context.ts";
import { decodeTask } from "./encoding.ts";
import { isBusy } from "./errors.ts";
import { PRUNE_EVERY_SECONDS } from "./events.ts";
import { endRow, requeueRow } from "./row_transitions.ts";
import { pruneStatusMinutes } from "./status_history.ts";
import type { TaskRow } from "./statements.ts";

const logger = getLogger(["pq", "store"]);

/**
 * Puts the tasks of `queues` (of every queue when undefined) whose lease
 * expired back in their queue (or ends them), drops what is past its
 * retention, and checkpoints the WAL.
 */
export function reclaimExpired(
  ctx: StoreContext,
  maxRedeliveries: number,
  queues?: readonly string[],
): ReclaimReport {
  const { sql } = ctx;
  const now = ctx.now();
  const report = ctx.transaction(() => {
    const report: ReclaimReport = { redelivered: 0, failed: 0, changed: [] };
    for (const row of expiredRows(ctx, now, queues)) {
      report.changed.push(row.id);
      const redeliveries = row.redeliveries + 1;
      const ending = afterLeaseExpired(
        row.id,
        redeliveries,
        maxRedeliveries,
        Boolean(row.revoke_requested),
      );
      if (!ending) {
        if (requeueRow(ctx, row, redeliveries, now)) report.redelivered++;
        continue;
      }
      endRow(ctx, row, decodeTask(ctx.codec, row.payload), now, ending);
      if (ending.status === TaskStatus.FAILURE) report.failed++;
    }
    sql.dropFinished.run(now);
    ctx.unique.prune.run(now);
    ctx.groups.prune.run(now);
    // Not at every reclaim: each prune that deletes is a commit, and a
    // commit wakes every process.
    if (now - ctx.events.lastPrune >= PRUNE_EVERY_SECONDS) {
      // Starts older than the longest window count for no bucket.
      sql.rateExpired.run(now - RATE_LIMIT_PER_MAX);
      ctx.events.prune();
    }
    pruneStatusMinutes(ctx, now);
    return report;
  });
  if (report.redelivered) ctx.waiters.wakeAll();
  checkpoint(ctx);
  return report;
}

/**
 * Ends now the leases of the running tasks of `worker` in `queues`, so
 * that the next reclaim gives them back; returns how many it ended.
 */
export function expireWorkerLeases(
  ctx: StoreContext,
  worker: string,
  queues: readonly string[],
): number {
  return ctx.transaction(() => {
    let ended = 0;
    for (const queue of new Set(queues)) {
      ended += Number(ctx.sql.expireLeases.run(`${worker}\t`, queue).changes);
    }
    return ended;
  });
}

/** The running rows of `queues` (of every queue) whose lease expired. */
function expiredRows(
  ctx: StoreContext,
  now: number,
  queues: readonly string[] | undefined,
): TaskRow[] {
  const { expired } = ctx.sql;
  if (queues === undefined) {
    return expired.all(now, null) as unknown[] as TaskRow[];
  }
  // Each queue once: a row must not be read twice.
  return [...new Set(queues)].flatMap((queue) =>
    expired.all(now, queue) as unknown[] as TaskRow[]
  );
}

/**
 * Copies the WAL into the file, without waiting for anyone: the next
 * commit then writes the WAL from its start instead of growing it. Left
 * to SQLite alone, an idle store's beats grow it to 4 MB (1000 pages).
 * Busy is expected (the next reclaim tries again); another error is
 * logged, and the reclaim done stays done.
 */
function checkpoint(ctx: StoreContext): void {
  if (ctx.walPath === undefined) return;
  try {
    ctx.sql.checkpoint.get();
  } catch (error) {
    if (isBusy(error)) return;
    logger.warn("Cannot checkpoint the WAL file {path}: {error}", {
      path: ctx.walPath,
      error,
    });
  }
}
