/**
 * How a task ends when its worker did not end it, and the reasons written
 * as its `result`: decided in one place, so that every store (and the
 * consumer) does and says the same for the same end.
 *
 * Invariants:
 * - A task whose revoke was asked for never runs again: when its lease
 *   expires or it is given back, it ends REVOKED, whatever its redeliveries.
 * - A task whose lease expired more than `maxRedeliveries` times ends
 *   FAILURE; up to that, it runs again.
 * - A result the codec cannot encode ends its task FAILURE saying why; it
 *   never blocks the batch it is written in.
 * - A record the store ends is the stored one (or a stand-in for a malformed
 *   one) with its final status, result and end time, nothing else changed.
 * @module
 */
import type { Codec } from "../model/codec.ts";
import { TaskStatus } from "../model/status.ts";
import type { TaskRecord } from "../model/task.ts";
import type { Finish } from "./store.ts";

/** The result of a task revoked while it was queued: it never ran. */
function revokedBeforeStart(id: string): string {
  return `Task ${id} was revoked before it started`;
}

/** The result of a running task that its worker stopped on a revoke. */
export function revokedWhileRunning(id: string): string {
  return `Task ${id} was revoked`;
}

/**
 * The result of a running task whose revoke was asked for, ended by the
 * store: its worker gave it back (shutting down) or its lease expired, before
 * the worker recorded how it ended. The task never runs again.
 */
function revokedUnrecorded(id: string): string {
  return `Task ${id} was revoked while running; its worker stopped before recording its end`;
}

/** The result of a task whose lease expired more than `maxRedeliveries` times. */
function redeliveredTooOften(
  redeliveries: number,
  maxRedeliveries: number,
): string {
  return `Task redelivered too many times: its lease expired ${redeliveries} times (maxRedeliveries ${maxRedeliveries})`;
}

/** How the store ends a task itself: its final status and its result. */
export interface StoreEnding {
  /** FAILURE or REVOKED. */
  readonly status: typeof TaskStatus.FAILURE | typeof TaskStatus.REVOKED;
  /** Why, written as the task's `result`. */
  readonly result: string;
}

/** The end of a queued task that is revoked: REVOKED, it never ran. */
export function revokedQueued(id: string): StoreEnding {
  return { status: TaskStatus.REVOKED, result: revokedBeforeStart(id) };
}

/**
 * The end of a running task whose revoke was asked for, when its worker
 * gives it back or its lease expires before the worker recorded its end.
 */
export function revokedRunning(id: string): StoreEnding {
  return { status: TaskStatus.REVOKED, result: revokedUnrecorded(id) };
}

/**
 * The fate of a task whose lease expired, `redeliveries` times counting
 * this one: undefined to run it again (with that count), else how it ends.
 */
export function afterLeaseExpired(
  id: string,
  redeliveries: number,
  maxRedeliveries: number,
  revokeAsked: boolean,
): StoreEnding | undefined {
  if (revokeAsked) return revokedRunning(id);
  if (redeliveries <= maxRedeliveries) return undefined;
  return {
    status: TaskStatus.FAILURE,
    result: redeliveredTooOften(redeliveries, maxRedeliveries),
  };
}

/**
 * The final record of a task the store ends: `base` (its stored record, or
 * a stand-in for a malformed one) with the end's status and result, at
 * `now`.
 */
export function endedRecord(
  base: TaskRecord,
  ending: StoreEnding,
  now: number,
): TaskRecord {
  return {
    ...base,
    status: ending.status,
    result: ending.result,
    timeEnded: now,
  };
}

/**
 * An outcome's final record and its bytes. A result the codec cannot encode
 * (a BigInt, a cycle) ends that task FAILURE saying why.
 */
export function encodeOutcome(
  codec: Codec,
  outcome: Finish,
): { task: TaskRecord; payload: Uint8Array } {
  try {
    return { task: outcome.task, payload: codec.encode(outcome.task) };
  } catch (error) {
    const task: TaskRecord = {
      ...outcome.task,
      status: TaskStatus.FAILURE,
      result:
        `Cannot store the result of task ${outcome.id} with ${codec.name}: ${
          error instanceof Error ? error.message : String(error)
        }`,
    };
    return { task, payload: codec.encode(task) };
  }
}
