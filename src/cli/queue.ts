/**
 * `pq queue <job> [key=value ...]`: queue a task, and maybe wait for it.
 * @module
 */
import { priorityProblem } from "../model/queue_options.ts";
import { rateLimitKeyProblem } from "../model/rate_limit.ts";
import { TaskStatus } from "../model/status.ts";
import type { Producer } from "../producer/producer.ts";
import type { Dict, Task } from "../model/task.ts";
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
 * So `["a=4", "b=6", "who=Ada"]` reads as `{ a: 4, b: 6, who: "Ada" }`.
 */
function parseKwargs(args: readonly string[]): Dict {
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

/** Reads a flag of seconds (`--delay`, `--timeout`): a number >= `min`. */
function secondsOf(
  flag: string,
  value: unknown,
  positive: boolean,
): number | undefined {
  if (value === undefined) return undefined;
  const text = String(value).trim();
  const seconds = Number(text);
  if (
    text === "" || !Number.isFinite(seconds) || seconds < 0 ||
    (positive && seconds === 0)
  ) {
    throw new UsageError(
      `Option --${flag} must be a ${
        positive ? "positive" : "non-negative"
      } number of seconds: got '${value}'`,
    );
  }
  return seconds;
}

/** Reads `--priority`: an integer from -1000 to 1000. */
function priorityOf(value: unknown): number | undefined {
  if (value === undefined) return undefined;
  const text = String(value).trim();
  const priority = text === "" ? NaN : Number(text);
  const problem = priorityProblem(priority);
  if (problem) {
    throw new UsageError(
      `Option --priority must be ${problem}: got '${value}'`,
    );
  }
  return priority;
}

/** Reads `--rate-limit-key`: a key of the job's rate limit. */
function rateLimitKeyOf(value: unknown): string | undefined {
  if (value === undefined) return undefined;
  const problem = rateLimitKeyProblem(value);
  if (problem) {
    throw new UsageError(
      `Option --rate-limit-key must be ${problem}: got '${value}'`,
    );
  }
  return value as string;
}

/**
 * `pq queue <job> [key=value ...] [--wait [--timeout s]] [--delay s]
 * [--queue q] [--id id] [--priority n] [--rate-limit-key k]`.
 */
export const queueCommand: Command = {
  name: "queue",
  usage:
    "<job> [key=value ...] [--wait [--timeout <s>]] [--delay <s>] [--queue <q>] [--id <id>] [--priority <n>] [--rate-limit-key <key>]",
  help:
    "Queue a task (values are JSON when they parse, else text) and print its id; --id gives it its id, and queues nothing while a task of that id is stored (it says so); --priority gives it a priority (an integer from -1000 to 1000, higher first; default 0); --rate-limit-key counts it in that key's window of its job's rate limit, instead of the key the job gives it; --wait waits for it (at most --timeout seconds) and fails unless it succeeds.",
  options: {
    json: { type: "boolean" },
    wait: { type: "boolean" },
    timeout: { type: "string" },
    delay: { type: "string" },
    queue: { type: "string" },
    id: { type: "string" },
    priority: { type: "string" },
    "rate-limit-key": { type: "string" },
  },
  async run({ api, args, values, io }) {
    checkArgs(this, args, 1, Infinity);
    const [jobName, ...rest] = args;
    const kwargs = parseKwargs(rest);
    const delay = secondsOf("delay", values.delay, false);
    const timeout = secondsOf("timeout", values.timeout, true);
    if (timeout !== undefined && !values.wait) {
      throw new UsageError(
        "Option --timeout needs --wait: it is how long to wait",
      );
    }
    const queue = values.queue as string | undefined;
    if (queue !== undefined && queue.trim() === "") {
      throw new UsageError("Option --queue needs a queue name: got ''");
    }
    const id = values.id as string | undefined;
    const priority = priorityOf(values.priority);
    const rateLimitKey = rateLimitKeyOf(values["rate-limit-key"]);
    const future = api.tasks.queue(jobName, kwargs, {
      callback: false,
      ...(delay !== undefined && { delay }),
      ...(queue !== undefined && { queue }),
      ...(id !== undefined && { id }),
      ...(priority !== undefined && { priority }),
      ...(rateLimitKey !== undefined && { rateLimitKey }),
    });
    const queued = await future.then(undefined, (error) => {
      // Arguments the job's schema refuses are bad usage, as a bad key=value.
      throw error instanceof TypeError
        ? new UsageError(error.message, { cause: error })
        : error;
    });
    const { duplicate } = await future.queued;
    if (!values.wait) {
      if (values.json) printJson(io, { ...taskJson(queued), duplicate });
      else if (duplicate) {
        io.out(
          `Not queued: ${queued} is there already on queue ${queued.queue} (same id)`,
        );
      } else io.out(`Queued ${queued} on queue ${queued.queue}`);
      return 0;
    }
    if (duplicate) {
      io.err(`pq: ${queued} is there already (same id): waiting for it`);
    }
    const task = await waitWithProgress(api, queued, io, timeout);
    if (task === undefined) {
      const now = await api.tasks.get(queued.id);
      io.err(
        `pq: stopped waiting after ${timeout} s: ${queued.name}<${queued.id}> is ${
          now?.statusString ?? "unknown"
        } (it stays queued; pq revoke ${queued.id} drops it)`,
      );
      return 1;
    }
    if (values.json) printJson(io, taskJson(task));
    else io.out(describeTask(task));
    if (task.status === TaskStatus.SUCCESS) return 0;
    io.err(`pq: ${task} ended ${task.statusString}: ${inline(task.result)}`);
    return 1;
  },
};

/**
 * Waits for a queued task, showing its status and the time waited on
 * stderr; undefined when `timeout` seconds passed first.
 */
async function waitWithProgress(
  api: Producer,
  queued: Task,
  io: CommandIO,
  timeout?: number,
): Promise<Task | undefined> {
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
  let deadline: ReturnType<typeof setTimeout> | undefined;
  try {
    await api.onEvents("task", queued.id, onEvent);
    const done = queued.doneCallback ?? api.waitFor(queued.id);
    if (timeout === undefined) return await done;
    return await Promise.race([
      done,
      new Promise<undefined>((resolve) =>
        deadline = setTimeout(() => resolve(undefined), timeout * 1000)
      ),
    ]);
  } finally {
    clearTimeout(deadline);
    clearInterval(timer);
    await api.removeEventCallback("task", queued.id, onEvent);
    io.endProgress();
  }
}
