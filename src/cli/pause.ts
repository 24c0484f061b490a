/**
 * `pq pause <queue ...>` and `pq resume <queue ...>`: stop and restart the
 * claiming of a queue's tasks, on every server of the store; with
 * `--group <name>`, of one group of each queue (fair queues).
 * @module
 */
import { checkGroupName } from "../model/task_group.ts";
import { checkQueueName } from "../store/_queue_name.ts";
import {
  checkArgs,
  type Command,
  type CommandContext,
  type CommandFlag,
  JSON_FLAG,
  printJson,
  UsageError,
} from "./_command.ts";

/** `--json`, and `--group`: one group of the queues, not the queues. */
const PAUSE_OPTIONS: Record<string, CommandFlag> = {
  json: JSON_FLAG,
  group: {
    type: "string",
    metavar: "<name>",
    help:
      "Only this group of each queue (fair queues): its tasks wait, the queue's other groups flow.",
  },
};

/** `pq pause <queue ...>`. */
export const pauseCommand: Command = {
  name: "pause",
  usage: "<queue> [queue ...]",
  help:
    "Pause the queues: workers stop taking their tasks (running ones finish); tasks can still be queued, and wait.",
  details:
    "Every server of the store stops claiming the queue's tasks until pq resume. Pausing a paused queue says so and exits 0.",
  options: PAUSE_OPTIONS,
  examples: [
    "pq pause fast",
    "pq pause fast slow --json",
    "pq pause reports --group tenant-42",
  ],
  run(context) {
    return setPaused(this, context, true);
  },
};

/** `pq resume <queue ...>`. */
export const resumeCommand: Command = {
  name: "resume",
  usage: "<queue> [queue ...]",
  help: "Resume paused queues: workers take their tasks again, at once.",
  details: "Resuming a queue that is not paused says so and exits 0.",
  options: PAUSE_OPTIONS,
  examples: ["pq resume fast", "pq resume reports --group tenant-42"],
  run(context) {
    return setPaused(this, context, false);
  },
};

/**
 * Pauses or resumes every named queue, once all names are checked; prints
 * what changed. Exits 0 also for a queue already in that state.
 */
async function setPaused(
  command: Command,
  { api, args, values, io }: CommandContext,
  pause: boolean,
): Promise<number> {
  checkArgs(command, args, 1, Infinity);
  const verb = pause ? "pause" : "resume";
  for (const queue of args) {
    try {
      checkQueueName(queue, `${verb} queue`);
    } catch (error) {
      throw new UsageError((error as Error).message, { cause: error });
    }
  }
  const queues = [...new Set(args)];
  if (values.group !== undefined) {
    return await setGroupPaused(queues, values, io, api, pause);
  }
  const changed: string[] = [];
  for (const queue of queues) {
    const done = pause
      ? await api.queues.pause(queue)
      : await api.queues.resume(queue);
    if (done) changed.push(queue);
  }
  if (values.json) {
    printJson(io, { queues, changed });
    return 0;
  }
  for (const queue of queues) {
    io.out(
      changed.includes(queue)
        ? pause
          ? `Paused queue ${queue}: workers stop taking its tasks`
          : `Resumed queue ${queue}: workers take its tasks again`
        : pause
        ? `Queue ${queue} was paused already`
        : `Queue ${queue} was not paused`,
    );
  }
  return 0;
}

/** Pauses or resumes the group `values.group` of every named queue. */
async function setGroupPaused(
  queues: string[],
  values: Record<string, unknown>,
  io: CommandContext["io"],
  api: CommandContext["api"],
  pause: boolean,
): Promise<number> {
  const verb = pause ? "pause" : "resume";
  let group: string;
  try {
    group = checkGroupName(values.group, `${verb} group`);
  } catch (error) {
    throw new UsageError((error as Error).message, { cause: error });
  }
  const changed: string[] = [];
  for (const queue of queues) {
    const done = pause
      ? await api.queues.pauseGroup(queue, group)
      : await api.queues.resumeGroup(queue, group);
    if (done) changed.push(queue);
  }
  if (values.json) {
    printJson(io, { queues, group, changed });
    return 0;
  }
  for (const queue of queues) {
    io.out(
      changed.includes(queue)
        ? pause
          ? `Paused group ${group} of queue ${queue}: workers stop taking its tasks`
          : `Resumed group ${group} of queue ${queue}: workers take its tasks again`
        : pause
        ? `Group ${group} of queue ${queue} was paused already`
        : `Group ${group} of queue ${queue} was not paused`,
    );
  }
  return 0;
}
