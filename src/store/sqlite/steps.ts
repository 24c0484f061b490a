/**
 * Durable steps on the embedded store: a running task's finished step is
 * added to its stored record in one transaction that checks the lease, as
 * progress is (`leases.ts`), and `progress` is published with the record.
 *
 * Invariants: nothing is written without the lease; a step of the same
 * name is replaced, so a record never holds a name twice.
 * @module
 */
import type { TaskStep } from "../../model/task_step.ts";
import { withStep } from "../../model/task_step.ts";
import type { Lease } from "../store.ts";
import type { StoreContext } from "./context.ts";
import { decodeTask } from "./encoding.ts";
import type { TaskRow } from "./statements.ts";

/**
 * Adds `step` to the record of a leased task and publishes `progress`;
 * false when the lease is lost or the record unreadable.
 */
export function saveTaskStep(
  ctx: StoreContext,
  lease: Lease,
  step: TaskStep,
): boolean {
  return ctx.transaction(() => {
    const row = ctx.sql.leased.get(lease.id, lease.token) as
      | TaskRow
      | undefined;
    if (!row) return false;
    const decoded = decodeTask(ctx.codec, row.payload);
    if (!decoded.ok) return false;
    const record = decoded.record;
    const payload = ctx.codec.encode({
      ...record,
      steps: withStep(record.steps, step),
    });
    // The statement that replaces a leased task's payload.
    ctx.sql.progress.run(payload, row.rowid);
    ctx.taskEvent("progress", payload);
    return true;
  });
}
