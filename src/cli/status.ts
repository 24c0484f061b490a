/**
 * `pq status <id>`: a stored task.
 * @module
 */
import type { Task, TaskProgress } from "../model/task.ts";
import type { TaskStep } from "../model/task_step.ts";
import {
  checkArgs,
  type Command,
  inline,
  isoTime,
  JSON_OPTION,
  printJson,
  table,
  taskJson,
} from "./_command.ts";

/** A task as lines of text. */
export function describeTask(task: Task): string {
  const rows: string[][] = [
    ["job", task.name],
    ["status", task.statusString],
    ["queue", task.queue ?? "- (ran in its producer)"],
    ["queued", isoTime(task.timeQueued)],
  ];
  if (task.delay) rows.push(["delay", `${task.delay} s`]);
  if (task.timeStarted) rows.push(["started", isoTime(task.timeStarted)]);
  if (task.timeEnded) {
    const took = task.timeStarted
      ? ` (${(task.timeEnded - task.timeStarted).toFixed(3)} s)`
      : "";
    rows.push(["ended", isoTime(task.timeEnded) + took]);
  }
  if (task.worker) {
    rows.push(["worker", task.worker + (task.node ? ` on ${task.node}` : "")]);
  }
  if (task.progress) rows.push(["progress", describeProgress(task.progress)]);
  for (const step of task.steps ?? []) rows.push(["step", describeStep(step)]);
  rows.push(["kwargs", inline(task.kwargs)]);
  if (task.fromTask) rows.push(["from", task.fromTask]);
  if (task.done()) rows.push(["result", inline(task.result)]);
  if (task.exception) rows.push(["exception", task.exception]);
  return `${task}\n${table(rows.map((row) => ["  " + row[0], row[1]]))}`;
}

/**
 * A progress as text: `40% page 4 of 10`, then its data as JSON if any.
 * The percentage is rounded down: 100% only once the job said 1.
 */
export function describeProgress(progress: TaskProgress): string {
  // The epsilon undoes float noise: 0.29 * 100 is 28.999999999999996.
  const percent = Math.floor(progress.value * 100 + 1e-9);
  return [
    `${percent}%`,
    ...(progress.message ? [progress.message] : []),
    ...(progress.data !== undefined ? [inline(progress.data)] : []),
  ].join(" ");
}

/**
 * A durable step as text: `charge  2026-12-07T20:30:00.000Z (0.120 s)
 * {"id":"ch_1"}`, its result cut at 80 characters.
 */
export function describeStep(step: TaskStep): string {
  const took = (step.timeEnded - step.timeStarted).toFixed(3);
  const result = step.result === undefined ? "" : inline(step.result);
  return [
    step.name,
    `${isoTime(step.timeStarted)} (${took} s)`,
    ...(result
      ? [result.length > 80 ? result.slice(0, 77) + "..." : result]
      : []),
  ].join("  ");
}

/** The message for an id no task has. */
export function unknownId(id: string): string {
  return `No task with id '${id}' (unknown, or dropped after its retention: see --result-ttl)`;
}

/** `pq status <id>`. */
export const statusCommand: Command = {
  name: "status",
  usage: "<id>",
  help: "Show a task: its status, times, worker and result.",
  details:
    "Exits 1 for an id no task has (unknown, or dropped after --result-ttl).",
  options: JSON_OPTION,
  examples: ["pq status 0c1f9e2a...", "pq status nightly-1 --json"],
  async run({ api, args, values, io }) {
    checkArgs(this, args, 1, 1);
    const task = await api.tasks.get(args[0]);
    if (!task) {
      io.err(`pq: ${unknownId(args[0])}`);
      return 1;
    }
    if (values.json) printJson(io, taskJson(task));
    else io.out(describeTask(task));
    return 0;
  },
};
