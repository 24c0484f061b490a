/**
 * Queueing tasks in the embedded store: a row per task, with the columns
 * its claim reads (queue, due time, priority, the job's concurrency and
 * rate limits), and `queued` published in the same transaction.
 *
 * Invariants:
 * - A task id is stored once: a second insert of it is refused, naming it.
 * - `enqueueUnique` commits nothing and publishes nothing for a duplicate
 *   (same id, or a dedupe key held by a task still stored).
 * - A task is checked and encoded before the transaction: a bad one takes
 *   no lock.
 * - The waiters of this process are woken once the tasks are committed.
 * @module
 */
import { type DedupeOptions, taskPriority } from "../../model/queue_options.ts";
import { taskRateLimit } from "../../model/rate_limit.ts";
import type { TaskRecord } from "../../model/task.ts";
import { taskGroup } from "../../model/task_group.ts";
import type { UniqueOutcome } from "../store.ts";
import type { StoreContext } from "./context.ts";
import { decodeTask } from "./encoding.ts";
import { errorMessage, isDuplicateKey } from "./errors.ts";
import { GROUP_BAND, type TaskRow } from "./statements.ts";

/** Queues `tasks` in one transaction. */
export function enqueueTasks(
  ctx: StoreContext,
  tasks: readonly TaskRecord[],
): void {
  if (tasks.length === 0) return;
  const encoded = tasks.map((task) => encodeQueued(ctx, task));
  ctx.transaction(() => {
    tasks.forEach((task, i) => {
      insertTask(ctx, task, encoded[i]);
      ctx.taskEvent("queued", encoded[i]);
    });
  });
  ctx.waiters.wakeAll();
}

/**
 * One transaction: the id's row (a finished one past its retention is
 * deleted: gone, as `get` says), then the dedupe key's holder, then the
 * insert. A duplicate commits nothing and publishes nothing.
 */
export function enqueueUniqueTask(
  ctx: StoreContext,
  task: TaskRecord,
  dedupe?: DedupeOptions,
): UniqueOutcome {
  const payload = encodeQueued(ctx, task);
  const sql = ctx.unique;
  const outcome = ctx.transaction((): UniqueOutcome => {
    const now = ctx.now();
    const there = storedRow(ctx, task.id, now);
    if (there) return duplicate(ctx, task.id, "id", there);
    if (dedupe) {
      const queue = queueOf(task);
      const held = sql.holder.get(queue, dedupe.key) as
        | { task_id: string; expires_at: number }
        | undefined;
      const holder = held && held.expires_at > now
        ? storedRow(ctx, held.task_id, now)
        : undefined;
      if (holder) return duplicate(ctx, task.id, "dedupe", holder);
      sql.hold.run(queue, dedupe.key, task.id, now + dedupe.ttl);
    }
    insertTask(ctx, task, payload);
    ctx.taskEvent("queued", payload);
    return { queued: true };
  });
  if (outcome.queued) ctx.waiters.wakeAll();
  return outcome;
}

/** The bytes of a task to queue; checked before any transaction. */
export function encodeQueued(ctx: StoreContext, task: TaskRecord): Uint8Array {
  queueOf(task);
  return ctx.codec.encode(task);
}

/** Inserts the row of a task to queue, in the open transaction. */
export function insertTask(
  ctx: StoreContext,
  task: TaskRecord,
  payload: Uint8Array,
): void {
  try {
    const group = taskGroup(task);
    if (group) {
      // Its priority in the band of groups (GROUP_BAND, `groups.ts`).
      ctx.sql.insertGrouped.run(
        task.id,
        task.name,
        queueOf(task),
        task.timeQueued + task.delay,
        concurrencyLimit(task),
        GROUP_BAND + taskPriority(task),
        rateLimitColumn(task),
        task.timeQueued,
        task.status,
        payload,
        group.group,
        group.concurrency,
      );
    } else {
      ctx.sql.insert.run(
        task.id,
        task.name,
        queueOf(task),
        task.timeQueued + task.delay,
        concurrencyLimit(task),
        taskPriority(task),
        rateLimitColumn(task),
        task.timeQueued,
        task.status,
        payload,
      );
    }
  } catch (error) {
    throw new Error(
      `Cannot queue task ${task.id}: ${
        isDuplicateKey(error)
          ? "a task with this id exists"
          : errorMessage(error)
      }`,
      { cause: error },
    );
  }
}

/**
 * The row of a stored task (queued, running, or finished and within its
 * retention); a finished row past its retention is deleted.
 */
export function storedRow(
  ctx: StoreContext,
  id: string,
  now: number,
): TaskRow | undefined {
  const row = ctx.sql.byId.get(id) as
    | (TaskRow & { expires_at: number | null })
    | undefined;
  if (!row || row.expires_at === null || row.expires_at >= now) return row;
  ctx.unique.dropTask.run(row.rowid);
  return undefined;
}

/** The answer of `enqueueUnique` when the task of `row` is there. */
function duplicate(
  ctx: StoreContext,
  id: string,
  reason: "id" | "dedupe",
  row: TaskRow,
): UniqueOutcome {
  const decoded = decodeTask(ctx.codec, row.payload);
  if (!decoded.ok) {
    throw new Error(
      `Cannot queue task ${id}: task ${row.id} is there (${
        reason === "id" ? "same id" : "it holds the dedupe key"
      }) and its record cannot be read: ${decoded.reason}`,
    );
  }
  return { queued: false, reason, task: decoded.record };
}

/** The queue of a task to store; a task without one cannot be queued. */
function queueOf(task: TaskRecord): string {
  if (typeof task.queue !== "string" || task.queue === "") {
    throw new TypeError(
      `Cannot queue task ${task.id} as 'queue' must be a queue name: got ${
        JSON.stringify(task.queue)
      }`,
    );
  }
  return task.queue;
}

/** The task's `meta.maxConcurrency` when it is a whole number > 0. */
function concurrencyLimit(task: TaskRecord): number | null {
  const limit = task.meta.maxConcurrency;
  return typeof limit === "number" && Number.isInteger(limit) && limit > 0
    ? limit
    : null;
}

/**
 * The `rate_limit` column of a task: `<tasks>\t<per>\t<bucket>`, or null
 * when it has no limit (see `rate_limit.ts`); `claim.ts` reads it.
 */
function rateLimitColumn(task: TaskRecord): string | null {
  const limit = taskRateLimit(task);
  return limit ? `${limit.tasks}\t${limit.per}\t${limit.bucket}` : null;
}
