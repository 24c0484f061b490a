/**
 * The reasons a task ended without finishing its run, written as its
 * `result`: built in one place, so that every store (and the consumer) says
 * the same thing for the same end.
 * @module
 */

/** The result of a task revoked while it was queued: it never ran. */
export function revokedBeforeStart(id: string): string {
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
export function revokedUnrecorded(id: string): string {
  return `Task ${id} was revoked while running; its worker stopped before recording its end`;
}

/** The result of a task whose lease expired more than `maxRedeliveries` times. */
export function redeliveredTooOften(
  redeliveries: number,
  maxRedeliveries: number,
): string {
  return `Task redelivered too many times: its lease expired ${redeliveries} times (maxRedeliveries ${maxRedeliveries})`;
}
