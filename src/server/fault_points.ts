/**
 * Test-only fault points: places where a process kills itself, to test
 * what happens when a worker dies there. Inert unless the environment
 * variable `PQ_FAULT` names the point (read once, when asked; a process
 * without the permission to read it has none).
 *
 * Points:
 * - `after-join`: a worker SIGKILLs itself right after `Store.joinGroup`
 *   recorded the last member of a group (the group is complete), before the
 *   step after it is queued and before the member's outcome is written.
 * @module
 */

/** The names of the fault points. */
export type FaultPoint = "after-join";

/** True when `PQ_FAULT` names `point`. */
export function faultArmed(point: FaultPoint): boolean {
  try {
    return Deno.env.get("PQ_FAULT") === point;
  } catch {
    return false;
  }
}

/** Kills this process at once with SIGKILL: nothing after it runs. */
export function dieNow(): never {
  Deno.kill(Deno.pid, "SIGKILL");
  // SIGKILL is not caught: this is never reached.
  throw new Error("Unreachable: SIGKILL did not end the process");
}
