/**
 * The two moves of a task row that several operations of the embedded
 * store share: a running row back to its queue (release, reclaim), and a
 * row to its end (reclaim, revoke, a revoked task given back). Each is
 * written in the open transaction, with its task event.
 *
 * Invariants:
 * - A task whose revoke was asked for never runs again: given back, it
 *   ends REVOKED instead.
 * - A row requeued keeps its place (its due time and seq).
 * - A row with a malformed record ends as a stand-in record, so waiters
 *   learn its end.
 * @module
 */
import { TaskStatus } from "../../model/status.ts";
import { standInRecord } from "../../model/task.ts";
import { endedRecord, revokedRunning, type StoreEnding } from "../_reasons.ts";
import type { StoreContext } from "./context.ts";
import { type Decoded, decodeTask } from "./encoding.ts";
import type { TaskRow } from "./statements.ts";

/**
 * Puts a running row back in its queue as QUEUED, keeping its place. A
 * task whose revoke was requested ends REVOKED instead: it must not run
 * again. Returns false in that case.
 */
export function requeueRow(
  ctx: StoreContext,
  row: TaskRow,
  redeliveries: number,
  now: number,
): boolean {
  const decoded = decodeTask(ctx.codec, row.payload);
  if (row.revoke_requested) {
    endRow(ctx, row, decoded, now, revokedRunning(row.id));
    return false;
  }
  let payload = row.payload;
  if (decoded.ok) {
    payload = ctx.codec.encode({
      ...decoded.record,
      status: TaskStatus.QUEUED,
      timeStarted: null,
      worker: null,
      node: null,
    });
    ctx.taskEvent("queued", payload);
  }
  ctx.sql.requeue.run(redeliveries, TaskStatus.QUEUED, payload, row.rowid);
  return true;
}

/** Ends a row with a final status and publishes `done`. */
export function endRow(
  ctx: StoreContext,
  row: TaskRow,
  decoded: Decoded,
  now: number,
  ending: StoreEnding,
): void {
  // A malformed record ends as a minimal one, so waiters learn its end.
  const base = decoded.ok ? decoded.record : standInRecord(row, row.due_at);
  const ended = endedRecord(base, ending, now);
  const payload = ctx.codec.encode(ended);
  ctx.sql.end.run(now + ctx.resultTtl, ended.status, payload, row.rowid);
  ctx.taskEnded(ended.status, payload);
}
