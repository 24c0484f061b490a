/**
 * The workers' beats and the named locks of the embedded store, each call
 * one transaction.
 *
 * Invariants:
 * - A worker is alive while its beat's `until` has not passed; a dead one
 *   is reported to one beating caller only, and forgotten.
 * - A beat that says its caller was cut off since a time (`cutOffSince`)
 *   neither reports nor forgets a worker whose `until` is at or after that
 *   time: only those whose `until` passed before it are dead to it.
 * - A lock has one owner at a time; it is free once released by its owner
 *   or past its expiry, and its owner may take it again to extend it.
 * @module
 */
import type { WorkerStatus } from "../../model/worker_status.ts";
import type { BeatOptions, BeatReport } from "../store.ts";
import type { StoreContext } from "./context.ts";
import { decodeStatus } from "./encoding.ts";

/**
 * Records the worker's status until `status.until`, and reports the dead
 * workers (forgotten here), whether this one was known, and the next
 * `until` of another. With `cutOffSince`, only the workers whose `until`
 * passed before it are dead to this beat.
 */
export function beatWorker(
  ctx: StoreContext,
  status: WorkerStatus,
  options: BeatOptions = {},
): BeatReport {
  const { sql, codec } = ctx;
  return ctx.transaction(() => {
    const now = ctx.now();
    const known = sql.workerUntil.get(status.worker) !== undefined;
    sql.beat.run(status.worker, status.until, codec.encode(status));
    const { cutOffSince } = options;
    const before = cutOffSince === undefined ? now : Math.min(now, cutOffSince);
    const dead: WorkerStatus[] = [];
    for (
      const row of sql.deadWorkers.all(before) as Array<
        { name: string; status: Uint8Array }
      >
    ) {
      sql.forgetWorker.run(row.name);
      const parsed = decodeStatus(codec, row.status);
      if (parsed) dead.push(parsed);
    }
    const { next } = sql.nextUntil.get(status.worker) as {
      next: number | null;
    };
    return { dead, known, ...(next !== null && { next }) };
  });
}

/** The workers whose beat has not expired, sorted by name. */
export function liveWorkerStatuses(ctx: StoreContext): WorkerStatus[] {
  return (ctx.sql.liveWorkers.all(ctx.now()) as Array<
    { until: number; status: Uint8Array }
  >).flatMap((row) => {
    const status = decodeStatus(ctx.codec, row.status);
    return status ? [{ ...status, until: row.until }] : [];
  });
}

/** Forgets the beat of a worker that stopped cleanly. */
export function forgetWorker(ctx: StoreContext, worker: string): void {
  ctx.transaction(() => ctx.sql.forgetWorker.run(worker));
}

/** Takes or extends the lock for `seconds`; false when another holds it. */
export function takeLock(
  ctx: StoreContext,
  name: string,
  owner: string,
  seconds: number,
): boolean {
  return ctx.transaction(() => {
    const now = ctx.now();
    const held = ctx.sql.lock.get(name) as
      | { owner: string; expires_at: number }
      | undefined;
    if (held && held.owner !== owner && held.expires_at > now) return false;
    ctx.sql.takeLock.run(name, owner, now + seconds);
    return true;
  });
}

/** Frees the lock if `owner` holds it; false otherwise. */
export function freeLock(
  ctx: StoreContext,
  name: string,
  owner: string,
): boolean {
  return ctx.sql.freeLock.run(name, owner).changes > 0;
}
