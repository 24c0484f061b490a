/**
 * `pq queues [name ...]` (sizes, paused or not) and `pq purge <queue ...>`.
 * @module
 */
import { type GroupInfo, queuedCount } from "../store/store.ts";
import {
  checkArgs,
  type Command,
  JSON_FLAG,
  JSON_OPTION,
  printJson,
  table,
} from "./_command.ts";

/** `pq queues [name ...]`. */
export const queuesCommand: Command = {
  name: "queues",
  usage: "[name ...]",
  help: "Show how many tasks wait in each queue, and which are paused.",
  details:
    "With no names: this host's local queue, --task-queues, --default-task-queue and the jobs' own queues, then every other queue that holds tasks (queued or running) and every paused queue.",
  options: {
    json: JSON_FLAG,
    groups: {
      type: "boolean",
      help:
        "Also show each queue's groups with work (fair queues): ready and running tasks, paused or not.",
    },
  },
  examples: ["pq queues", "pq queues fast slow --json", "pq queues --groups"],
  async run({ api, args, values, io }) {
    await api.start();
    const paused = new Set(await api.queues.paused());
    const names = args.length ? args : await api.tasks.knownQueues();
    const sizes = (await api.queues.stats(names)).map(queuedCount);
    const groups: GroupInfo[][] = values.groups
      ? await Promise.all(names.map((name) => api.queues.groups(name)))
      : [];
    if (values.json) {
      printJson(
        io,
        Object.fromEntries(
          names.map((n, i) => [n, {
            tasks: sizes[i],
            paused: paused.has(n),
            ...(values.groups ? { groups: groups[i] } : {}),
          }]),
        ),
      );
      return 0;
    }
    // A running queue's PAUSED cell is empty: its line reads as before.
    io.out(table([
      ["QUEUE", "TASKS", "PAUSED"],
      ...names.map((name, i) => [
        name,
        String(sizes[i]),
        paused.has(name) ? "yes" : "",
      ]),
    ]));
    if (values.groups) {
      const rows = names.flatMap((name, i) =>
        groups[i].map((g) => [
          name,
          g.group,
          String(g.ready),
          String(g.running),
          g.paused ? "yes" : "",
        ])
      );
      io.out("");
      io.out(
        rows.length
          ? table([["QUEUE", "GROUP", "READY", "RUNNING", "PAUSED"], ...rows])
          : "No group has work.",
      );
    }
    return 0;
  },
};

/** `pq purge <queue ...>`. */
export const purgeCommand: Command = {
  name: "purge",
  usage: "<queue> [queue ...]",
  help:
    "Drop every task waiting in the queues (running and finished tasks stay).",
  details: "Waiting tasks are the ready and the delayed ones.",
  options: JSON_OPTION,
  examples: ["pq purge fast", "pq purge fast slow --json"],
  async run({ api, args, values, io }) {
    checkArgs(this, args, 1, Infinity);
    await api.start();
    const purged = await api.queues.purge(args);
    if (values.json) printJson(io, { queues: args, purged });
    else {
      io.out(
        `Purged ${purged} queued task${purged === 1 ? "" : "s"} from ${
          args.join(", ")
        }`,
      );
    }
    return 0;
  },
};
