/**
 * `pq workers`: the live workers, from their heartbeats.
 *
 * Invariant: what it shows is current when the command runs, not the last
 * beat before it (a worker that had just finished its tasks showed them
 * running): it reads the beats, then waits for each listed worker's next
 * beat (its `time` changes), at most {@linkcode BEAT_WAIT_SECONDS}. A worker
 * that does not beat again by then is shown as last heard, and one whose
 * beat expired meanwhile is gone from the list.
 * @module
 */
import type { WorkerStatus } from "../model/worker_status.ts";
import type { Producer } from "../producer/producer.ts";
import {
  checkArgs,
  type Command,
  JSON_OPTION,
  printJson,
  table,
} from "./_command.ts";

/**
 * The longest wait for a worker's next beat: an idle worker beats every
 * 3 s, a busy one every second; a little more, for a slow store.
 */
export const BEAT_WAIT_SECONDS = 4;

/** Seconds between two reads of the beats while waiting. */
const READ_EVERY_SECONDS = 0.25;

/**
 * The live workers once each has beaten since the first read (or
 * `waitSeconds` passed): what they do now.
 */
export async function currentWorkers(
  api: Producer,
  waitSeconds = BEAT_WAIT_SECONDS,
): Promise<WorkerStatus[]> {
  const first = await api.workers();
  const before = new Map(first.map((w) => [w.worker, w.time]));
  const deadline = Date.now() + waitSeconds * 1000;
  let workers = first;
  while (
    workers.some((w) => before.get(w.worker) === w.time) &&
    Date.now() < deadline
  ) {
    await new Promise((resolve) =>
      setTimeout(resolve, READ_EVERY_SECONDS * 1000)
    );
    workers = await api.workers();
  }
  return workers;
}

/** `pq workers`. */
export const workersCommand: Command = {
  name: "workers",
  usage: "",
  help: "List the live workers (those whose last beat has not expired).",
  details:
    `Each worker is shown as of its next beat (a worker beats every second while it runs tasks, every 3 s while idle), so the command takes up to ${BEAT_WAIT_SECONDS} s: its running tasks, tasks claimed, queues, uptime and memory (RSS).`,
  options: JSON_OPTION,
  examples: ["pq workers", "pq workers --json"],
  async run({ api, args, values, io }) {
    checkArgs(this, args, 0, 0);
    const workers = await currentWorkers(api);
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
