/**
 * `pq queue <job> [key=value ...]`: queue a task, and maybe wait for it.
 *
 * Invariants: every flag is checked before anything is queued, and a bad
 * one is a usage error (exit 2) naming the flag, the value and the range;
 * `--task-timeout` is the task's own timeout, `--wait-timeout` how long
 * `--wait` waits (`--timeout`, its old name, still works and says so);
 * `--wait` follows a task through its retries, one line per attempt.
 * @module
 */
import {
  PRIORITY_MAX,
  PRIORITY_MIN,
  priorityProblem,
} from "../model/queue_options.ts";
import { rateLimitKeyProblem } from "../model/rate_limit.ts";
import { groupProblem } from "../model/task_group.ts";
import { TaskStatus } from "../model/status.ts";
import type { Producer } from "../producer/producer.ts";
import { type Dict, Task } from "../model/task.ts";
import {
  checkArgs,
  type Command,
  type CommandIO,
  inline,
  JSON_FLAG,
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

/**
 * Reads a flag of seconds (`--delay`, `--wait-timeout`, `--task-timeout`):
 * a number >= 0, or > 0 when `positive`.
 */
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
      `Option --${flag} must be a number of seconds ${
        positive ? "> 0" : ">= 0"
      }: got '${value}'`,
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

/** Reads `--max-retries`: a whole number >= 0. */
function maxRetriesOf(value: unknown): number | undefined {
  if (value === undefined) return undefined;
  const text = String(value).trim();
  if (!/^\d+$/.test(text)) {
    throw new UsageError(
      `Option --max-retries must be a whole number >= 0: got '${value}'`,
    );
  }
  return Number(text);
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

/** Reads `--group`: a group of the task's queue (fair queues). */
function groupOf(value: unknown): string | undefined {
  if (value === undefined) return undefined;
  const problem = groupProblem(value);
  if (problem) {
    throw new UsageError(`Option --group must be ${problem}: got '${value}'`);
  }
  return value as string;
}

/** `pq queue <job> [key=value ...]`. */
export const queueCommand: Command = {
  name: "queue",
  usage: "<job> [key=value ...]",
  help: "Queue a task and print its id; --wait waits for its result.",
  details:
    "Each key=value is a keyword argument of the job: its value is JSON when it parses (a=4 a number, on=true a boolean, xs=[1,2] a list), else text (who=Ada). The job's schema, when it has one, checks them before anything is queued. With --wait the command exits 1 unless the task ends SUCCESS, and shows each attempt of a task that is retried.",
  options: {
    json: JSON_FLAG,
    wait: {
      type: "boolean",
      help:
        "Wait for the task to end (following its retries); exit 1 unless it ends SUCCESS.",
    },
    "wait-timeout": {
      type: "string",
      metavar: "<seconds>",
      help:
        "With --wait: stop waiting after this long (exit 1; the task stays queued).",
    },
    timeout: {
      type: "string",
      metavar: "<seconds>",
      help:
        "The old name of --wait-timeout (it still works, and says so); the task's own timeout is --task-timeout.",
    },
    "task-timeout": {
      type: "string",
      metavar: "<seconds>",
      help:
        "The task's timeout: revoked (REVOKED) when it has not ended this long after it is due; default: the job's timeout.",
    },
    delay: {
      type: "string",
      metavar: "<seconds>",
      help: "Run it no sooner than this long from now (>= 0).",
    },
    queue: {
      type: "string",
      metavar: "<name>",
      help: "The queue, instead of the job's or --default-task-queue.",
    },
    id: {
      type: "string",
      metavar: "<id>",
      help:
        "The task's id: while a task of this id is stored, nothing is queued (it says so).",
    },
    priority: {
      type: "string",
      metavar: "<n>",
      help:
        `An integer from ${PRIORITY_MIN} to ${PRIORITY_MAX}, higher first (default: the job's, else 0).`,
    },
    "max-retries": {
      type: "string",
      metavar: "<n>",
      help:
        "Runs in all (attempts, the first included) for a task that does not succeed (metaParams.maxRetries); default: the job's maxRetries.",
    },
    "rate-limit-key": {
      type: "string",
      metavar: "<key>",
      help:
        "Count it in this key's window of its job's rate limit, instead of the key the job gives it.",
    },
    group: {
      type: "string",
      metavar: "<name>",
      help:
        "Put it in this group of its queue (fair queues: a queue's groups take turns), instead of the one the job gives it.",
    },
  },
  examples: [
    "pq queue addition a=4 b=6 --wait",
    "pq queue asynchronous lag=2 --delay 5 --queue fast --json",
    "pq queue report day=2024-07-01 --id report-2024-07-01 --task-timeout 600",
    "pq queue addition a=1 --priority -3",
    "pq queue addition a=1 --group tenant-42",
    "pq queue fetch url=https://example.com --max-retries 3 --wait",
  ],
  async run({ api, args, values, io }) {
    checkArgs(this, args, 1, Infinity);
    const [jobName, ...rest] = args;
    const kwargs = parseKwargs(rest);
    const delay = secondsOf("delay", values.delay, false);
    const taskTimeout = secondsOf("task-timeout", values["task-timeout"], true);
    if (
      values.timeout !== undefined && values["wait-timeout"] !== undefined
    ) {
      throw new UsageError(
        "Options --timeout and --wait-timeout are one option (--timeout is its old name): give --wait-timeout only",
      );
    }
    const waitFlag = values["wait-timeout"] !== undefined
      ? "wait-timeout"
      : "timeout";
    const waitTimeout = secondsOf(waitFlag, values[waitFlag], true);
    if (waitTimeout !== undefined && !values.wait) {
      throw new UsageError(
        `Option --${waitFlag} needs --wait: it is how long to wait (the task's own timeout is --task-timeout)`,
      );
    }
    if (values.timeout !== undefined) {
      io.err(
        "pq: --timeout is now --wait-timeout (how long --wait waits); the task's own timeout is --task-timeout",
      );
    }
    const queue = values.queue as string | undefined;
    if (queue !== undefined && queue.trim() === "") {
      throw new UsageError("Option --queue needs a queue name: got ''");
    }
    const id = values.id as string | undefined;
    const priority = priorityOf(values.priority);
    const rateLimitKey = rateLimitKeyOf(values["rate-limit-key"]);
    const group = groupOf(values.group);
    const maxRetries = maxRetriesOf(values["max-retries"]);
    const future = api.tasks.queue(jobName, kwargs, {
      callback: false,
      ...(delay !== undefined && { delay }),
      ...(taskTimeout !== undefined && { timeout: taskTimeout }),
      ...(queue !== undefined && { queue }),
      ...(id !== undefined && { id }),
      ...(priority !== undefined && { priority }),
      ...(rateLimitKey !== undefined && { rateLimitKey }),
      ...(group !== undefined && { group }),
      ...(maxRetries !== undefined && { metaParams: { maxRetries } }),
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
    const task = await waitWithProgress(api, queued, io, waitTimeout);
    if (task === undefined) {
      const now = await api.tasks.get(queued.id);
      io.err(
        `pq: stopped waiting after ${waitTimeout} s: ${queued.name}<${queued.id}> is ${
          now?.statusString ?? "unknown"
        } (it stays queued; pq revoke ${queued.id} drops it)`,
      );
      return 1;
    }
    if (values.json) printJson(io, taskJson(task));
    else io.out(describeTask(task));
    if (task.status === TaskStatus.SUCCESS) return 0;
    io.err(
      `pq: ${task} ended ${task.statusString}${
        task.retry > 1 ? ` on attempt ${task.retry}` : ""
      }: ${inline(task.result)}`,
    );
    return 1;
  },
};

/**
 * Waits for a queued task, showing its status and the time waited on
 * stderr, and a line for each attempt that ended RETRY (with its error);
 * undefined when `timeout` seconds passed first.
 */
async function waitWithProgress(
  api: Producer,
  queued: Task,
  io: CommandIO,
  timeout?: number,
): Promise<Task | undefined> {
  const start = Date.now();
  let current = queued;
  let status = queued.statusString;
  let where = "";
  const show = () =>
    io.progress(
      `Waiting for ${current.name}<${current.id}>: ${status}${where}` +
        (io.interactive
          ? ` (${Math.floor((Date.now() - start) / 1000)} s)`
          : ""),
    );
  // The ids followed: the task, then each of its next attempts.
  const followed: string[] = [];
  // The attempts whose RETRY line was written.
  const said = new Set<string>();
  const follow = async (id: string) => {
    followed.push(id);
    await api.onEvents("task", id, onEvent);
  };
  const onEvent = (_channel: string, _event: string, data: unknown) => {
    const task = data as Task;
    if (task.id !== current.id) return;
    const next = task.meta.nextTask;
    if (task.status === TaskStatus.RETRY && typeof next === "string") {
      io.endProgress();
      io.err(retryLine(task));
      said.add(task.id);
      current = new Task({
        ...task.toJSON(),
        id: next,
        retry: task.retry + 1,
        status: TaskStatus.QUEUED,
      });
      status = current.statusString;
      where = "";
      show();
      follow(next).catch(() => {});
      return;
    }
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
    await follow(queued.id);
    const done = queued.doneCallback ?? api.waitFor(queued.id);
    const task = timeout === undefined ? await done : await Promise.race([
      done,
      new Promise<undefined>((resolve) =>
        deadline = setTimeout(() => resolve(undefined), timeout * 1000)
      ),
    ]);
    // Attempts that ended before their events were heard: from the store.
    if (task) {
      io.endProgress();
      for (const attempt of await earlierAttempts(api, task)) {
        if (!said.has(attempt.id)) io.err(retryLine(attempt));
      }
    }
    return task;
  } finally {
    clearTimeout(deadline);
    clearInterval(timer);
    for (const id of followed) {
      await api.removeEventCallback("task", id, onEvent);
    }
    io.endProgress();
  }
}

/** The line of an attempt that ended RETRY: its error and its next attempt. */
function retryLine(task: Task): string {
  return `Attempt ${task.retry} of ${task.name}<${task.id}> ended RETRY: ${
    inline(task.result)
  }; attempt ${task.retry + 1} is ${task.name}<${task.meta.nextTask}>`;
}

/**
 * The attempts before `task`, oldest first, read back from the store: each
 * is the `fromTask` of the next whose `meta.nextTask` it names (at most
 * 1000; those dropped after their retention are not read).
 */
async function earlierAttempts(api: Producer, task: Task): Promise<Task[]> {
  const attempts: Task[] = [];
  let next = task;
  while (typeof next.fromTask === "string" && attempts.length < 1000) {
    const before = await api.tasks.get(next.fromTask);
    if (!before || before.meta.nextTask !== next.id) break;
    attempts.unshift(before);
    next = before;
  }
  return attempts;
}
