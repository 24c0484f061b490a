/**
 * Task records as the Redis store keeps them: encoded with the store's
 * codec, a running task's start in its queue's `started` hash (JSON
 * `[timeStarted, worker, node]`), and what the scripts that queue a task
 * are told of it. Pure: bytes and values, no I/O.
 *
 * Invariants:
 * - A record that cannot be decoded is never thrown at a caller that reads
 *   many: {@linkcode decodeRecord} says why, and each caller decides (a
 *   claim marks the task malformed, a search passes it over, `get` throws).
 * - A task reads as STARTED, by its worker, exactly when its start info is
 *   there and can be read ({@linkcode withStart}): `get`, a search, and the
 *   task found by `enqueueUnique` all read it so.
 * @module
 */
import type { Buffer } from "node:buffer";
import type { Codec } from "../../model/codec.ts";
import { taskRateLimit } from "../../model/rate_limit.ts";
import { taskPriority } from "../../model/queue_options.ts";
import { taskGroup } from "../../model/task_group.ts";
import { TaskStatus } from "../../model/status.ts";
import { parseTaskRecord, type TaskRecord } from "../../model/task.ts";
import type { Claim } from "../store.ts";
import type { ClaimedTask, QueuedTask } from "./script_types.ts";

/** A stored value's bytes (a bulk string, or text). */
export function toBytes(value: Uint8Array | string): Uint8Array {
  return typeof value === "string" ? new TextEncoder().encode(value) : value;
}

/** A stored record, decoded and checked; or why it cannot be read. */
export function decodeRecord(
  codec: Codec,
  payload: Uint8Array | string,
): { ok: true; record: TaskRecord } | { ok: false; reason: string } {
  let value: unknown;
  try {
    value = codec.decode(toBytes(payload));
  } catch (error) {
    return {
      ok: false,
      reason: `Cannot decode task record with ${codec.name}: ${
        error instanceof Error ? error.message : String(error)
      }`,
    };
  }
  return parseTaskRecord(value);
}

/** Who runs a task, and since when: the fields of its start info. */
export type StartInfo = Pick<TaskRecord, "timeStarted" | "worker" | "node">;

/**
 * The start info of a running task (JSON `[timeStarted, worker, node]`, as
 * `claim.lua` writes it and `started` messages carry it); undefined when it
 * is empty or cannot be read.
 */
export function parseStartInfo(
  info: Buffer | string | null,
): StartInfo | undefined {
  if (info === null || info.length === 0) return undefined;
  try {
    const [timeStarted, worker, node] = JSON.parse(String(info));
    if (
      typeof timeStarted === "number" && typeof worker === "string" &&
      typeof node === "string"
    ) return { timeStarted, worker, node };
  } catch {
    // Not ours to read.
  }
  return undefined;
}

/**
 * A stored record as `get` reads it: STARTED, by its worker, when its start
 * info is there (a running task); else as stored.
 */
export function withStart(
  record: TaskRecord,
  started: Buffer | string | null,
): TaskRecord {
  const start = parseStartInfo(started);
  return start ? { ...record, status: TaskStatus.STARTED, ...start } : record;
}

/**
 * When a claimed task started: the time of the hand-over that gave it (in
 * its rate limit window too), else `now` (a task claimed now, or handed
 * over by an older version, whose entry does not say).
 */
export function startTime(handedAt: number | undefined, now: number): number {
  return handedAt !== undefined && Number.isFinite(handedAt) ? handedAt : now;
}

/** A claim of a task a script leased to `who`, started at `time`. */
export function claimOf(
  codec: Codec,
  who: { worker: string; node: string },
  time: number,
  taken: ClaimedTask,
): Claim {
  const { queue, id, token, redeliveries } = taken;
  const claim: Claim = { id, token, redeliveries, queue };
  const decoded = decodeRecord(codec, taken.record);
  if (decoded.ok) {
    claim.name = decoded.record.name;
    claim.task = {
      ...decoded.record,
      status: TaskStatus.STARTED,
      timeStarted: time,
      worker: who.worker,
      node: who.node,
    };
  } else {
    claim.malformed = decoded.reason;
  }
  return claim;
}

/**
 * What the scripts that queue a task (`enqueue`, `enqueue_unique`, and
 * `finish` for a retry) are told of it, with its encoded record.
 */
export function queuedFields(
  task: TaskRecord,
  record: Uint8Array,
): QueuedTask {
  return {
    id: task.id,
    due: task.timeQueued + task.delay,
    queued: task.timeQueued,
    record,
    limit: limitOf(task),
    name: task.name,
  };
}

/**
 * The `limit` argument of the scripts that queue a task: its job's
 * maxConcurrency ('' for none), then a tab and its priority when it has
 * one, then a tab and its rate limit (tasks, per and key, tab-separated)
 * when it has one, its priority '' then if it has none (kept together in
 * the queue's `limits` hash; see `_helpers.lua`); '' for none of them.
 * A task of a group has every part, then its group and its group's
 * concurrency limit ('' for none).
 */
function limitOf(task: TaskRecord): string {
  const limit = task.meta.maxConcurrency;
  const text = typeof limit === "number" && Number.isInteger(limit) && limit > 0
    ? String(limit)
    : "";
  const priority = taskPriority(task);
  const rate = taskRateLimit(task);
  const group = taskGroup(task);
  if (group) {
    const rated = rate ? `${rate.tasks}\t${rate.per}\t${rate.key}` : "\t\t";
    return `${text}\t${priority || ""}\t${rated}\t${group.group}\t${
      group.concurrency ?? ""
    }`;
  }
  if (rate) {
    return `${text}\t${
      priority || ""
    }\t${rate.tasks}\t${rate.per}\t${rate.key}`;
  }
  return priority === 0 ? text : `${text}\t${priority}`;
}
