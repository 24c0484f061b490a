/**
 * Queues as a whole in the embedded store: which there are,
 * pausing and resuming them, and flushing their queued tasks.
 *
 * Invariants:
 * - A queue is listed while it has a queued or running task; it is paused
 *   while it has a row in `paused_queues` (the claim statements skip it).
 * - A pause or resume that changes something publishes `paused` or
 *   `resumed` (channel `queue`) in its transaction; one that does not
 *   publishes nothing.
 * @module
 */
import { checkQueueName } from "../_queue_name.ts";
import type { StoreContext } from "./context.ts";

/**
 * Pauses the queue; false when it was paused already. Other processes'
 * waiters see the commit (their data version changes) and look again,
 * without the paused queue.
 */
export function pauseQueueNamed(ctx: StoreContext, queue: string): boolean {
  checkQueueName(queue, "pause queue");
  const paused = ctx.transaction(() => {
    if (!ctx.sql.pause.run(queue, ctx.now()).changes) return false;
    ctx.events.insert("queue", "paused", ctx.codec.encode({ data: queue }));
    return true;
  });
  // This process's waiters: no timer left for the queue's delayed tasks.
  if (paused) ctx.waiters.lookAgain();
  return paused;
}

/**
 * Resumes the queue; false when it was not paused. Waiters of this process
 * are woken here, those of other processes by the commit.
 */
export function resumeQueueNamed(ctx: StoreContext, queue: string): boolean {
  checkQueueName(queue, "resume queue");
  const resumed = ctx.transaction(() => {
    if (!ctx.sql.resume.run(queue).changes) return false;
    ctx.events.insert("queue", "resumed", ctx.codec.encode({ data: queue }));
    return true;
  });
  if (resumed) ctx.waiters.wakeAll();
  return resumed;
}

/** The paused queues, sorted. */
export function pausedQueueNames(ctx: StoreContext): string[] {
  return (ctx.sql.pausedQueues.all() as unknown[] as { queue: string }[])
    .map((row) => row.queue)
    .sort();
}

/** The queues that hold queued or running tasks, sorted. */
export function activeQueueNames(ctx: StoreContext): string[] {
  return (ctx.sql.queueNames.all() as unknown[] as { queue: string }[])
    .map((row) => row.queue)
    .sort();
}

/** Deletes the queued tasks of the queues; returns how many. */
export function flushQueues(
  ctx: StoreContext,
  queues: readonly string[],
): number {
  return ctx.transaction(() =>
    queues.reduce(
      (sum, queue) => sum + Number(ctx.sql.flush.run(queue).changes),
      0,
    )
  );
}
