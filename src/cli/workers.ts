/**
 * `pq workers`: the live workers, from their heartbeats.
 * @module
 */
import { HEARTBEAT_SECONDS, MISSED_HEARTBEATS } from "../heartbeat.ts";
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
  help:
    `List the live workers (from their heartbeats; waits ${HEARTBEAT_SECONDS} s to hear them).`,
  options: JSON_OPTION,
  async run({ api, args, values, io }) {
    checkArgs(this, args, 0, 0);
    const workers = await api.workers();
    if (values.json) {
      printJson(io, workers);
      return 0;
    }
    if (workers.length === 0) {
      io.out(
        `No live workers: none sent a heartbeat in the last ${
          MISSED_HEARTBEATS * HEARTBEAT_SECONDS
        } s`,
      );
      return 0;
    }
    const now = Date.now() / 1000;
    io.out(table([
      ["WORKER", "NODE", "PID", "RUNNING", "PROCESSED", "QUEUES", "SEEN"],
      ...workers.map((w) => [
        w.worker,
        w.node,
        String(w.pid),
        `${w.concurrentTasks.length}/${w.maxConcurrentTasks}`,
        String(w.processed),
        w.queues.join(","),
        `${Math.max(0, now - w.time).toFixed(1)} s ago`,
      ]),
    ]));
    return 0;
  },
};
