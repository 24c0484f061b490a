/**
 * Durable steps on Redis: a running task's finished step is added to its
 * stored record by the lease holder, which reads the record, adds the step
 * and writes it back with `progress.lua`: the script that replaces a
 * leased task's record only while its lease is held, and publishes
 * `progress` with the task as `get` reads it (STARTED, by its worker).
 *
 * Invariants: nothing is written without the lease; only the lease holder
 * writes a running task's record, and its worker writes one at a time
 * (progress and steps of a run are written in turn, see `run_task.ts`), so
 * the read and the write cannot interleave with another write of it; a
 * step of the same name is replaced, so a record never holds a name twice.
 * @module
 */
import { type TaskStep, withStep } from "../../model/task_step.ts";
import type { TaskRecord } from "../../model/task.ts";
import type { Lease } from "../store.ts";
import type { RedisContext } from "./context.ts";
import { queueOfToken } from "./leases.ts";
import { decodeRecord, withStart } from "./records.ts";
import { bytesOrNil } from "./replies.ts";

/**
 * Adds `step` to the record of a leased task and publishes `progress`;
 * false when the lease is lost or the record unreadable.
 */
export async function redisSaveStep(
  ctx: RedisContext,
  lease: Lease,
  step: TaskStep,
): Promise<boolean> {
  const { codec, keys: layout, topology } = ctx;
  const keys = layout.queue(queueOfToken(lease.token));
  const what = "HGET of a running task";
  const [stored, started] = await Promise.all([
    topology.send(["HGET", keys.tasks, lease.id]),
    topology.send(["HGET", keys.started, lease.id]),
  ]);
  const record = bytesOrNil(stored, what, "tasks");
  const start = bytesOrNil(started, what, "started");
  if (!record || !start) return false; // Not running here (any more).
  const decoded = decodeRecord(codec, record);
  // A record that cannot be read was never handed to a job to run.
  if (!decoded.ok) return false;
  const updated: TaskRecord = {
    ...decoded.record,
    steps: withStep(decoded.record.steps, step),
  };
  return await ctx.scripts.progress(keys, {
    channel: layout.channel("task"),
    id: lease.id,
    token: lease.token,
    record: codec.encode(updated),
    event: codec.encode(withStart(updated, start)),
  });
}
