/**
 * The groups of a queue in the embedded store (fair queues): listing them,
 * pausing and resuming one. A task's group is its row's `grp` (its
 * priority then in GROUP_BAND, see `statements.ts`); `claim.ts` takes the
 * tasks of a queue's groups in turn.
 *
 * Invariants:
 * - A group is paused while it has a row in `paused_groups`; the claim
 *   reads them once a claim a queue.
 * - A pause or resume is one statement: its commit is what other
 *   processes' waiters see (their data version changes).
 * @module
 */
import { checkGroupName } from "../../model/task_group.ts";
import { checkQueueName } from "../_queue_name.ts";
import type { GroupInfo } from "../store.ts";
import type { StoreContext } from "./context.ts";

/** The groups of `queue` with tasks ready or running, and paused ones. */
export function queueGroupsOf(ctx: StoreContext, queue: string): GroupInfo[] {
  checkQueueName(queue, "list groups");
  const { sql } = ctx;
  const groups = new Map<string, GroupInfo>();
  const info = (group: string) => {
    let found = groups.get(group);
    if (!found) {
      found = { group, ready: 0, running: 0, paused: false };
      groups.set(group, found);
    }
    return found;
  };
  for (
    const row of sql.groupReady.all(queue, ctx.now()) as {
      grp: string;
      n: number;
    }[]
  ) info(row.grp).ready = row.n;
  for (
    const row of sql.groupRunningAll.all(queue) as { grp: string; n: number }[]
  ) info(row.grp).running = row.n;
  for (const row of sql.pausedGroupsOf.all(queue) as { grp: string }[]) {
    info(row.grp).paused = true;
  }
  return [...groups.values()].sort((a, b) =>
    a.group < b.group ? -1 : a.group > b.group ? 1 : 0
  );
}

/** Pauses a group of a queue; false when it was paused already. */
export function pauseGroupNamed(
  ctx: StoreContext,
  queue: string,
  group: string,
): boolean {
  checkQueueName(queue, "pause group");
  checkGroupName(group, "pause group");
  const paused = ctx.sql.pauseGroup.run(queue, group, ctx.now()).changes > 0;
  if (paused) ctx.waiters.lookAgain();
  return paused;
}

/** Resumes a group of a queue; false when it was not paused. */
export function resumeGroupNamed(
  ctx: StoreContext,
  queue: string,
  group: string,
): boolean {
  checkQueueName(queue, "resume group");
  checkGroupName(group, "resume group");
  const resumed = ctx.sql.resumeGroup.run(queue, group).changes > 0;
  if (resumed) ctx.waiters.wakeAll();
  return resumed;
}
