/**
 * What a worker does with the leases of the tasks it claimed from the
 * embedded store: renew them, write the tasks' outcomes, give them back,
 * report progress and finished steps. Each call is one transaction.
 *
 * Invariants:
 * - A lease is its task's id and token: a write with a token no longer
 *   held (the lease expired and was reclaimed, or the task was finished
 *   elsewhere) changes nothing, and says so.
 * - An outcome and its `retry` record are written in one transaction, with
 *   `done` (and `queued` for the retry) published in it.
 * - A task given back keeps its place and its redeliveries; one whose
 *   revoke was asked for ends REVOKED instead.
 * @module
 */
import type { TaskRecord } from "../../model/task.ts";
import { encodeOutcome } from "../_reasons.ts";
import type { Finish, Lease } from "../store.ts";
import type { StoreContext } from "./context.ts";
import { decodeTask } from "./encoding.ts";
import { encodeQueued, insertTask } from "./enqueue.ts";
import { requeueRow } from "./row_transitions.ts";
import type { TaskRow } from "./statements.ts";

/**
 * Moves the leases' ends to `leaseSeconds` from now; returns the ids whose
 * lease was lost and those whose revoke was asked for.
 */
export function renewLeases(
  ctx: StoreContext,
  leases: readonly Lease[],
  leaseSeconds: number,
): { lost: string[]; revoked: string[] } {
  const lost: string[] = [];
  const revoked: string[] = [];
  if (leases.length === 0) return { lost, revoked };
  const until = ctx.now() + leaseSeconds;
  ctx.transaction(() => {
    for (const { id, token } of leases) {
      const row = ctx.sql.renew.get(until, id, token) as
        | { revoke_requested: number }
        | undefined;
      if (!row) lost.push(id);
      else if (row.revoke_requested) revoked.push(id);
    }
  });
  return { lost, revoked };
}

/**
 * Writes the outcomes whose lease is still held, and queues their `retry`
 * records; returns one boolean per outcome (false: the lease was lost).
 */
export function finishTasks(
  ctx: StoreContext,
  outcomes: readonly Finish[],
): boolean[] {
  if (outcomes.length === 0) return [];
  const now = ctx.now();
  const encoded = outcomes.map((outcome) => ({
    ...encodeOutcome(ctx.codec, outcome),
    retry: outcome.retry && encodeQueued(ctx, outcome.retry),
  }));
  let requeued = false;
  const written = ctx.transaction(() =>
    outcomes.map((outcome, i) => {
      const { task, payload, retry } = encoded[i];
      const changed = ctx.sql.finish.run(
        (task.timeEnded ?? now) + ctx.resultTtl,
        task.status,
        payload,
        outcome.id,
        outcome.token,
      ).changes;
      if (!changed) return false;
      ctx.taskEnded(task.status, payload);
      if (outcome.retry && retry) {
        insertTask(ctx, outcome.retry, retry);
        ctx.taskEvent("queued", retry);
        requeued = true;
      }
      return true;
    })
  );
  if (requeued) ctx.waiters.wakeAll();
  return written;
}

/** Gives the leased tasks back to their queue, without a redelivery. */
export function releaseLeases(
  ctx: StoreContext,
  leases: readonly Lease[],
): void {
  if (leases.length === 0) return;
  const now = ctx.now();
  ctx.transaction(() => {
    for (const { id, token } of leases) {
      const row = ctx.sql.leased.get(id, token) as TaskRow | undefined;
      if (row) requeueRow(ctx, row, row.redeliveries, now);
    }
  });
  ctx.waiters.wakeAll();
}

/**
 * Rewrites the record of a leased task with `change` (its progress, a
 * finished step) and publishes `progress` with it, in one transaction that
 * checks the lease; false when the lease is lost or the record unreadable.
 */
export function rewriteLeasedRecord(
  ctx: StoreContext,
  lease: Lease,
  change: (record: TaskRecord) => TaskRecord,
): boolean {
  return ctx.transaction(() => {
    const row = ctx.sql.leased.get(lease.id, lease.token) as
      | TaskRow
      | undefined;
    if (!row) return false;
    const decoded = decodeTask(ctx.codec, row.payload);
    if (!decoded.ok) return false;
    const payload = ctx.codec.encode(change(decoded.record));
    ctx.sql.progress.run(payload, row.rowid);
    ctx.taskEvent("progress", payload);
    return true;
  });
}
