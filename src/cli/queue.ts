/**
 * `pq queue <job> [key=value ...]`: queue a task, and maybe wait for it.
 * @module
 */
import { TaskStatus } from "../status.ts";
import type { Producer } from "../producer.ts";
import type { Dict, Task } from "../task.ts";
import {
  checkArgs,
  type Command,
  type CommandIO,
  inline,
  printJson,
  taskJson,
  UsageError,
} from "./_command.ts";
import { describeTask } from "./status.ts";

/**
 * Reads `key=value` arguments as the task's kwargs: a value that parses as
 * JSON is that JSON value (`a=4` is a number, `on=true` a boolean,
 * `xs=[1,2]` a list), any other is a string (`name=Ada`).
 *
 * @throws {UsageError} for an argument without `=`, with an empty key, or
 * a key given twice, naming it.
 *
 * @example
 * ```ts
 * parseKwargs(["a=4", "b=6", "who=Ada"]); // { a: 4, b: 6, who: "Ada" }
 * ```
 */
export function parseKwargs(args: readonly string[]): Dict {
  const kwargs: Dict = {};
  for (const arg of args) {
    const at = arg.indexOf("=");
    if (at <= 0) {
      throw new UsageError(
        `Cannot read argument '${arg}' as key=value: ${
          at === 0 ? "the key is empty" : "there is no '='"
        } (write the task's arguments as a=4 name=Ada)`,
      );
    }
    const key = arg.slice(0, at);
    if (Object.hasOwn(kwargs, key)) {
      throw new UsageError(
        `Cannot read argument '${arg}': key '${key}' is given twice`,
      );
    }
    const text = arg.slice(at + 1);
    let value: unknown = text;
    try {
      value = JSON.parse(text);
    } catch {
      // Not JSON: the text itself.
    }
    kwargs[key] = value;
  }
  return kwargs;
}

/** Reads `--delay`: a non-negative number of seconds. */
function delayOf(value: unknown): number | undefined {
  if (value === undefined) return undefined;
  const text = String(value).trim();
  const delay = Number(text);
  if (text === "" || !Number.isFinite(delay) || delay < 0) {
    throw new UsageError(
      `Option --delay must be a non-negative number of seconds: got '${value}'`,
    );
  }
  return delay;
}

/** `pq queue <job> [key=value ...] [--wait] [--delay s] [--queue q]`. */
export const queueCommand: Command = {
  name: "queue",
  usage: "<job> [key=value ...] [--wait] [--delay <s>] [--queue <q>]",
  help:
    "Queue a task (values are JSON when they parse, else text) and print its id; --wait waits for it and fails unless it succeeds.",
  options: {
    json: { type: "boolean" },
    wait: { type: "boolean" },
    delay: { type: "string" },
    queue: { type: "string" },
  },
  async run({ api, args, values, io }) {
    checkArgs(this, args, 1, Infinity);
    const [jobName, ...rest] = args;
    const kwargs = parseKwargs(rest);
    const delay = delayOf(values.delay);
    const queue = values.queue as string | undefined;
    if (queue !== undefined && queue.trim() === "") {
      throw new UsageError("Option --queue needs a queue name: got ''");
    }
    const queued = await api.tasks.queue(jobName, kwargs, {
      callback: false,
      ...(delay !== undefined && { delay }),
      ...(queue !== undefined && { queue }),
    });
    if (!values.wait) {
      if (values.json) printJson(io, taskJson(queued));
      else io.out(`Queued ${queued} on queue ${queued.queue}`);
      return 0;
    }
    const task = await waitWithProgress(api, queued, io);
    if (values.json) printJson(io, taskJson(task));
    else io.out(describeTask(task));
    if (task.status === TaskStatus.SUCCESS) return 0;
    io.err(`pq: ${task} ended ${task.statusString}: ${inline(task.result)}`);
    return 1;
  },
};

/** Waits for a queued task, showing its status and the time waited on stderr. */
async function waitWithProgress(
  api: Producer,
  queued: Task,
  io: CommandIO,
): Promise<Task> {
  const start = Date.now();
  let status = queued.statusString;
  let where = "";
  const show = () =>
    io.progress(
      `Waiting for ${queued.name}<${queued.id}>: ${status}${where}` +
        (io.interactive
          ? ` (${Math.floor((Date.now() - start) / 1000)} s)`
          : ""),
    );
  const onEvent = (_channel: string, _event: string, data: unknown) => {
    const task = data as Task;
    if (task.statusString === status) return;
    status = task.statusString;
    if (task.worker) where = ` on ${task.worker}`;
    show();
  };
  show();
  // On a terminal the line counts the seconds; elsewhere (a log) it is
  // written once per status.
  const timer = io.interactive ? setInterval(show, 1000) : undefined;
  try {
    await api.onEvents("task", queued.id, onEvent);
    return await (queued.doneCallback ?? api.waitFor(queued.id));
  } finally {
    clearInterval(timer);
    await api.removeEventCallback("task", queued.id, onEvent);
    io.endProgress();
  }
}
