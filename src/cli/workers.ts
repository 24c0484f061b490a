/**
 * `pq workers`: the live workers, from their heartbeats.
 * @module
 */
import {
  checkArgs,
  type Command,
  JSON_OPTION,
  printJson,
  table,
} from "./_command.ts";

/** `pq workers`. */
export const workersCommand: Command = {
  name: "workers",
  usage: "",
  help: "List the live workers (those whose last beat has not expired).",
  options: JSON_OPTION,
  async run({ api, args, values, io }) {
    checkArgs(this, args, 0, 0);
    const workers = await api.workers();
    if (values.json) {
      printJson(io, workers);
      return 0;
    }
    if (workers.length === 0) {
      io.out("No live workers: no worker's beat is current in this store");
      return 0;
    }
    const now = Date.now() / 1000;
    io.out(table([
      [
        "WORKER",
        "NODE",
        "PID",
        "RUNNING",
        "PROCESSED",
        "QUEUES",
        "UP",
        "MEMORY",
        "BEAT EXPIRES",
      ],
      ...workers.map((w) => [
        w.worker,
        w.node,
        String(w.pid),
        `${w.concurrentTasks.length}/${w.maxConcurrentTasks}`,
        String(w.processed),
        w.queues.join(","),
        w.started === undefined ? "-" : `${Math.round(now - w.started)} s`,
        w.memory === undefined ? "-" : `${Math.round(w.memory / 2 ** 20)} MiB`,
        `in ${Math.max(0, w.until - now).toFixed(1)} s`,
      ]),
    ]));
    return 0;
  },
};
