/**
 * The groups of a queue on Redis (fair queues): listing them, pausing and
 * resuming one. The keys are those `_helpers.lua` names from the queue's
 * `limits` key (same hash tag, so one Cluster slot a queue):
 * `<limits>:groups` (the rotation: each group with queued tasks once, and
 * '' for the tasks without a group; a group emptied leaves it at its next
 * turn), `<limits>:g:<group>` (a group's due tasks), `<limits>:gpaused`
 * (SET) and `<limits>:gactive` (HASH group → running tasks, for groups
 * with a `groupConcurrency`). A group's running tasks are counted here
 * from the queue's `running` set and their `limits` entries (whose seventh
 * field is the group): a task of a group without a limit costs no command
 * for it when it starts or ends.
 *
 * Invariants:
 * - Pausing is one SADD: claims read the set once a claim (take_ready).
 * - A resume wakes a waiting worker (the queue's marker) when the group
 *   has tasks; a spare wake-up costs one empty claim, never a task.
 * @module
 */
import { checkGroupName } from "../../model/task_group.ts";
import { checkQueueName } from "../_queue_name.ts";
import type { GroupInfo } from "../store.ts";
import type { RedisContext } from "./context.ts";
import { list, number, text } from "./replies.ts";

/** The group keys of a queue, by the queue's `limits` key. */
export function groupKeys(limits: string): {
  rotation: string;
  paused: string;
  active: string;
  group: (name: string) => string;
} {
  return {
    rotation: `${limits}:groups`,
    paused: `${limits}:gpaused`,
    active: `${limits}:gactive`,
    group: (name) => `${limits}:g:${name}`,
  };
}

/** The groups of `queue`, with their sizes, sorted by name. */
export async function queueGroups(
  ctx: RedisContext,
  queue: string,
): Promise<GroupInfo[]> {
  checkQueueName(queue, "list groups");
  const queueKeys = ctx.keys.queue(queue);
  const keys = groupKeys(queueKeys.limits);
  const what = `the groups of queue ${queue}`;
  const [rotation, paused, running] = await Promise.all([
    ctx.topology.send(["LRANGE", keys.rotation, "0", "-1"]),
    ctx.topology.send(["SMEMBERS", keys.paused]),
    ctx.topology.send(["ZRANGE", queueKeys.running, "0", "-1"]),
  ]);
  const groups = new Map<string, GroupInfo>();
  const info = (group: string) => {
    let found = groups.get(group);
    if (!found) {
      found = { group, ready: 0, running: 0, paused: false };
      groups.set(group, found);
    }
    return found;
  };
  const queued = list(rotation, what, "LRANGE").map((name) => text(name, what))
    .filter((name) => name !== "");
  for (const name of queued) info(name);
  for (const name of list(paused, what, "SMEMBERS")) {
    info(text(name, what)).paused = true;
  }
  const ids = list(running, what, "ZRANGE running").map((id) => text(id, what));
  const [limits, ...sizes] = await Promise.all([
    ids.length > 0
      ? ctx.topology.send(["HMGET", queueKeys.limits, ...ids])
      : Promise.resolve([]),
    ...queued.map((name) => ctx.topology.send(["ZCARD", keys.group(name)])),
  ]);
  for (const entry of list(limits, what, "HMGET limits")) {
    // '<limit>\t<name>\t<priority>\t<tasks>\t<per>\t<key>\t<group>\t...'
    const group = entry === null ? undefined : text(entry, what).split("\t")[6];
    if (group) info(group).running++;
  }
  queued.forEach((name, i) => {
    info(name).ready = number(sizes[i], what, `ZCARD ${name}`);
  });
  // A group emptied stays in the rotation until its next turn: not listed.
  return [...groups.values()]
    .filter((g) => g.ready > 0 || g.running > 0 || g.paused)
    .sort((a, b) => a.group < b.group ? -1 : a.group > b.group ? 1 : 0);
}

/**
 * How many due tasks wait in the groups of `queue`, and the id of each
 * group's next task (for its stats: the oldest due task of a group is its
 * next one unless it has tasks of several priorities).
 */
export async function groupedReady(
  ctx: RedisContext,
  queue: string,
): Promise<{ ready: number; nextIds: string[] }> {
  const keys = groupKeys(ctx.keys.queue(queue).limits);
  const what = `the groups of queue ${queue}`;
  const names = list(
    await ctx.topology.send(["LRANGE", keys.rotation, "0", "-1"]),
    what,
  ).map((name) => text(name, what)).filter((name) => name !== "");
  const replies = await Promise.all(
    names.flatMap((name) => [
      ctx.topology.send(["ZCARD", keys.group(name)]),
      ctx.topology.send(["ZRANGE", keys.group(name), "0", "0"]),
    ]),
  );
  let ready = 0;
  const nextIds: string[] = [];
  for (let i = 0; i < replies.length; i += 2) {
    ready += number(replies[i], what, "ZCARD");
    for (const id of list(replies[i + 1], what, "ZRANGE")) {
      nextIds.push(text(id, what));
    }
  }
  return { ready, nextIds };
}

/** Pauses a group of a queue; true when it was not paused. */
export async function pauseGroup(
  ctx: RedisContext,
  queue: string,
  group: string,
): Promise<boolean> {
  checkQueueName(queue, "pause group");
  checkGroupName(group, "pause group");
  const keys = groupKeys(ctx.keys.queue(queue).limits);
  const added = await ctx.topology.send(["SADD", keys.paused, group]);
  return number(added, `pausing group ${group} of queue ${queue}`) === 1;
}

/**
 * Resumes a group of a queue, and wakes a waiting worker when the group
 * has due tasks; true when it was paused.
 */
export async function resumeGroup(
  ctx: RedisContext,
  queue: string,
  group: string,
): Promise<boolean> {
  checkQueueName(queue, "resume group");
  checkGroupName(group, "resume group");
  const queueKeys = ctx.keys.queue(queue);
  const keys = groupKeys(queueKeys.limits);
  const what = `resuming group ${group} of queue ${queue}`;
  const removed = await ctx.topology.send(["SREM", keys.paused, group]);
  if (number(removed, what) !== 1) return false;
  const size = await ctx.topology.send(["ZCARD", keys.group(group)]);
  if (number(size, what) > 0) {
    await ctx.topology.send(["LPUSH", queueKeys.marker, "r"]);
  }
  return true;
}
