/**
 * The state workflows keep in the embedded store: the final record of a
 * member that never ran (`settle`), and the results of a group's members
 * (`joinGroup`), each in one transaction.
 *
 * Invariants:
 * - A settled record is written only when no task of its id is stored; it
 *   is a finished task's row, kept `resultTtl`, never claimed.
 * - A group member recorded again keeps its first value; the group is kept
 *   `resultTtl` after its last record, and one kept no longer starts
 *   again.
 * @module
 */
import type { TaskRecord } from "../../model/task.ts";
import { checkGroupJoin, checkSettled, memberValue } from "../_settle_join.ts";
import type { StoreContext } from "./context.ts";
import { insertTask, storedRow } from "./enqueue.ts";

/**
 * One transaction: the id's row (a finished one past its retention is
 * deleted, as `enqueueUnique` does), then the row of the record, written
 * as a finished task's (the insert, then the end). True when written.
 */
export function settleTask(ctx: StoreContext, task: TaskRecord): boolean {
  checkSettled(task);
  const payload = ctx.codec.encode(task);
  return ctx.transaction(() => {
    const now = ctx.now();
    if (storedRow(ctx, task.id, now)) return false;
    insertTask(ctx, task, payload);
    const { rowid } = ctx.sql.byId.get(task.id) as { rowid: number };
    ctx.sql.end.run(now + ctx.resultTtl, task.status, payload, rowid);
    ctx.taskEnded(task.status, payload);
    return true;
  });
}

/**
 * One transaction: the group's rows past their retention go (a group
 * kept no longer starts again), the member's row is added unless its
 * index is there, every row of the group is kept `resultTtl` from now,
 * and the values are read once all members are there.
 */
export function joinTaskGroup(
  ctx: StoreContext,
  group: string,
  index: number,
  total: number,
  value: unknown,
): unknown[] | undefined {
  checkGroupJoin(group, index, total);
  const bytes = ctx.codec.encode(memberValue(value));
  const sql = ctx.groups;
  const rows = ctx.transaction(() => {
    const now = ctx.now();
    const expires = now + ctx.resultTtl;
    sql.dropExpired.run(group, now);
    sql.join.run(group, index, bytes, expires);
    sql.keep.run(expires, group);
    const { n } = sql.count.get(group, total) as { n: number };
    if (n < total) return undefined;
    return sql.values.all(group, total) as unknown[] as {
      value: Uint8Array;
    }[];
  });
  return rows?.map((row) => ctx.codec.decode(row.value));
}
