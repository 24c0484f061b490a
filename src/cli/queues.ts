/**
 * `pq queues [name ...]` (sizes) and `pq purge <queue ...>`.
 * @module
 */
import {
  checkArgs,
  type Command,
  JSON_OPTION,
  printJson,
  table,
} from "./_command.ts";

/** `pq queues [name ...]`. */
export const queuesCommand: Command = {
  name: "queues",
  usage: "[name ...]",
  help:
    "Show how many tasks wait in each queue (the named ones, or the local queue, --task-queues, --default-task-queue, the jobs' queues and every queue that holds tasks).",
  options: JSON_OPTION,
  async run({ api, args, values, io }) {
    await api.start();
    const names = args.length ? args : await api.tasks.knownQueues();
    const sizes = await api.store.sizes(names);
    if (values.json) {
      printJson(io, Object.fromEntries(names.map((n, i) => [n, sizes[i]])));
      return 0;
    }
    io.out(table([
      ["QUEUE", "TASKS"],
      ...names.map((name, i) => [name, String(sizes[i])]),
    ]));
    return 0;
  },
};

/** `pq purge <queue ...>`. */
export const purgeCommand: Command = {
  name: "purge",
  usage: "<queue> [queue ...]",
  help:
    "Drop every task waiting in the queues (running and finished tasks stay).",
  options: JSON_OPTION,
  async run({ api, args, values, io }) {
    checkArgs(this, args, 1, Infinity);
    await api.start();
    const purged = await api.store.flush(args);
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
