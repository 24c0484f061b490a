/**
 * The task model: what is stored, what producers and jobs see.
 * @module
 */
import { describeValue } from "./errors.ts";
import {
  FINISHED_STATES,
  statusString,
  TaskStatus,
  type TaskStatusCode,
} from "./status.ts";
import { stepsProblem, type TaskStep } from "./task_step.ts";

/** A JSON-like object of named values: a task's kwargs, meta or runInfo. */
export type Dict = Record<string, unknown>;

/**
 * The plain data of a task, as stored and as sent in events. Times are Unix
 * seconds (floats), durations are seconds.
 */
export interface TaskRecord {
  /**
   * Unique id: 32 lower-case hex characters, or the caller's own id (see
   * {@linkcode TASK_ID_PATTERN}).
   */
  id: string;
  /** The job name. */
  name: string;
  /** The queue, or `null` for a task executed in-process. */
  queue: string | null;
  /** The status code. */
  status: TaskStatusCode;
  /** When the task was queued. */
  timeQueued: number;
  /** When the task started running. */
  timeStarted?: number | null;
  /** When the task finished. */
  timeEnded?: number | null;
  /** Seconds to wait after `timeQueued` before the task may run. */
  delay: number;
  /** Seconds, counted from `timeQueued + delay`, after which it is revoked. */
  timeout?: number | null;
  /** Attempt number, from 1. */
  retry: number;
  /** The job's arguments. */
  kwargs: Dict;
  /** Meta params (`maxRetries`, `retryDelay`, `maxConcurrency`, free keys). */
  meta: Dict;
  /** The id of the task that queued this one, or that this one retries. */
  fromTask?: string | null;
  /** The job's return value, or the error message on failure. */
  result?: unknown;
  /** For unexpected errors: `"Type: message"`. */
  exception?: string | null;
  /** For unexpected errors: the stack trace lines. */
  stacktrace?: string[] | null;
  /** The worker process that ran it. */
  worker?: string | null;
  /** The host that ran it. */
  node?: string | null;
  /** Free information a job may record while it runs. */
  runInfo: Dict;
  /** How far the task is, as its job last said (`ctx.progress`). */
  progress?: TaskProgress | null;
  /** The finished durable steps of the task (`ctx.step`), in order. */
  steps?: TaskStep[] | null;
  /**
   * The W3C trace context (`traceparent`) of the span that queued the task,
   * so that its run joins the producer's trace.
   */
  traceparent?: string | null;
}

/**
 * How far a running task is, as its job last said with `ctx.progress`.
 *
 * @example
 * ```ts
 * import type { TaskProgress } from "@pq/queue";
 * const half: TaskProgress = { value: 0.5, message: "page 5 of 10", time: 0 };
 * ```
 */
export interface TaskProgress {
  /** From 0 (nothing done) to 1 (all done). */
  value: number;
  /** A short message. */
  message?: string;
  /** Small JSON data. */
  data?: unknown;
  /** When the job said it (Unix seconds). */
  time: number;
}

/** The most characters of a progress message. */
export const PROGRESS_MESSAGE_MAX = 200;
/** The most bytes of a progress's data, encoded as JSON. */
export const PROGRESS_DATA_MAX = 1024;

/** Why `value` is not a {@linkcode TaskProgress}, or undefined when it is. */
export function progressProblem(value: unknown): string | undefined {
  if (!isDict(value)) return "must be an object";
  const { value: amount, message, data, time } = value as Dict;
  if (
    !(isNumber(amount) && (amount as number) >= 0 && (amount as number) <= 1)
  ) {
    return "'value' must be a number from 0 to 1";
  }
  if (
    message !== undefined &&
    !(typeof message === "string" && message.length <= PROGRESS_MESSAGE_MAX)
  ) {
    return `'message' must be a string of at most ${PROGRESS_MESSAGE_MAX} characters`;
  }
  if (data !== undefined) {
    let text: string | undefined;
    try {
      text = JSON.stringify(data);
    } catch {
      text = undefined;
    }
    if (
      text === undefined ||
      new TextEncoder().encode(text).length > PROGRESS_DATA_MAX
    ) {
      return `'data' must be JSON of at most ${PROGRESS_DATA_MAX} bytes`;
    }
  }
  if (!isNumber(time)) return "'time' must be a number";
  return undefined;
}

/**
 * What a task id may be: the 32 hex digits of a new id, or a caller's own
 * (`tasks.queue(job, kwargs, { id })`): 1 to 128 characters of
 * `[A-Za-z0-9_.:-]`, but `.` and `..`. Nothing in it needs escaping in a
 * URL, a Redis key (no `{`: it never picks a Cluster slot) or a log line.
 * So `invoice:2024-07:42` is an id; `a b` is not.
 */
export const TASK_ID_PATTERN: RegExp = /^(?!\.\.?$)[A-Za-z0-9_.:-]{1,128}$/;

/** True when `value` is a task id ({@linkcode TASK_ID_PATTERN}). */
export function isTaskId(value: unknown): value is string {
  return typeof value === "string" && TASK_ID_PATTERN.test(value);
}

/** {@linkcode TASK_ID_PATTERN} in words, for messages. */
export const TASK_ID_RULE =
  "1 to 128 characters of [A-Za-z0-9_.:-], not '.' or '..'";

/** What each field of a record must be: a check, and its words. */
type FieldCheck = [check: (value: unknown) => boolean, must: string];

/** True when `value` is an object that is not an array (a record's kwargs, say). */
export function isDict(value: unknown): value is Dict {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
const isNumber = (value: unknown) =>
  typeof value === "number" && Number.isFinite(value);
const optional = (check: (value: unknown) => boolean) => (value: unknown) =>
  value === undefined || value === null || check(value);
const STATUS_CODES = new Set<unknown>(Object.values(TaskStatus));

/**
 * The rules every task record read from a store must follow: one per field
 * of {@linkcode TaskRecord} (the type holds the table to every field, and
 * the order of the table is the order of a record's keys). Written by hand
 * rather than with a schema library: every claimed task and every event is
 * checked, and this is on the hot path.
 */
const FIELDS: { readonly [K in keyof TaskRecord]-?: FieldCheck } = {
  id: [
    isTaskId,
    `must be a task id (${TASK_ID_RULE})`,
  ],
  name: [(v) => typeof v === "string" && v.length > 0, "must be a job name"],
  queue: [
    (v) => v === null || typeof v === "string",
    "must be a queue name or null",
  ],
  status: [(v) => STATUS_CODES.has(v), "must be a TaskStatus code"],
  timeQueued: [isNumber, "must be a number"],
  timeStarted: [optional(isNumber), "must be a number or null"],
  timeEnded: [optional(isNumber), "must be a number or null"],
  delay: [(v) => isNumber(v) && (v as number) >= 0, "must be a number >= 0"],
  timeout: [
    optional((v) => isNumber(v) && (v as number) > 0),
    "must be a number > 0 or null",
  ],
  retry: [
    (v) => Number.isInteger(v) && (v as number) > 0,
    "must be a whole number > 0",
  ],
  kwargs: [isDict, "must be an object"],
  meta: [isDict, "must be an object"],
  fromTask: [
    optional((v) => typeof v === "string"),
    "must be a task id or null",
  ],
  result: [() => true, "may be any value"],
  exception: [
    optional((v) => typeof v === "string"),
    "must be a string or null",
  ],
  stacktrace: [
    optional((v) =>
      Array.isArray(v) && v.every((line) => typeof line === "string")
    ),
    "must be a list of strings or null",
  ],
  worker: [optional((v) => typeof v === "string"), "must be a string or null"],
  node: [optional((v) => typeof v === "string"), "must be a string or null"],
  runInfo: [isDict, "must be an object"],
  progress: [
    optional((v) => progressProblem(v) === undefined),
    "must be a progress ({ value: 0..1, message?, data?, time }) or null",
  ],
  steps: [
    optional((v) => stepsProblem(v) === undefined),
    "must be a list of steps ({ name, result?, timeStarted, timeEnded }) with unique names, or null",
  ],
  traceparent: [
    optional((v) =>
      typeof v === "string" &&
      /^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/.test(v)
    ),
    "must be a W3C traceparent or null",
  ],
};

/** The fields of a task record, in order, with their checks. */
const FIELD_CHECKS = Object.entries(FIELDS) as ReadonlyArray<
  [keyof TaskRecord, FieldCheck]
>;

/** The fields of a task record, in order. */
export const TASK_FIELDS: ReadonlyArray<keyof TaskRecord> = Object.freeze(
  FIELD_CHECKS.map(([field]) => field),
);

/**
 * Checks a value read from a store or a message. Returns the record, or the
 * reason it is malformed, naming the field that is wrong.
 */
export function parseTaskRecord(
  value: unknown,
): { ok: true; record: TaskRecord } | { ok: false; reason: string } {
  if (!isDict(value)) {
    return {
      ok: false,
      reason: "Malformed task record: field '(record)' must be an object",
    };
  }
  const record = value as Record<string, unknown>;
  for (const [field, [check, must]] of FIELD_CHECKS) {
    if (!check(record[field])) {
      return {
        ok: false,
        reason: `Malformed task record: field '${field}' ${must}, got ${
          describe(record[field])
        }`,
      };
    }
  }
  return { ok: true, record: record as unknown as TaskRecord };
}

function describe(value: unknown): string {
  const text = describeValue(value);
  return text.length > 60 ? text.slice(0, 57) + "..." : text;
}

/**
 * A record for a task whose stored record cannot be read: what a store
 * knows of it besides (its id, job name and queue), to end it with a reason.
 */
export function standInRecord(
  known: { id: string; name?: string; queue: string | null },
  now: number,
): TaskRecord {
  return {
    id: known.id,
    name: known.name ?? "unknown",
    queue: known.queue,
    status: TaskStatus.QUEUED,
    timeQueued: now,
    delay: 0,
    retry: 1,
    kwargs: {},
    meta: {},
    runInfo: {},
  };
}

/** The millisecond of the last id, and its first 13 hex characters. */
let idTime = -1;
let idPrefix = "";

/**
 * A new task id: a UUIDv7 (RFC 9562) as 32 hex characters, the time in
 * milliseconds then 74 random bits. As unique as pulsar-queue's uuid4, and
 * ids made later sort after earlier ones, so an index of ids grows at its
 * end: with random ids each insert of a SQLite store lands on a random page
 * of its id index (bulk queueing into 50,000 rows: 1.4x faster).
 */
export function newTaskId(): string {
  const now = Date.now();
  if (now !== idTime) {
    idTime = now;
    idPrefix = now.toString(16).padStart(12, "0") + "7";
  }
  // The random bits of a uuid4 (8-4-4-4-12, version at 14, variant at 19)
  // after the time: its variant is v7's too.
  const random = crypto.randomUUID();
  return idPrefix + random.slice(15, 18) + random.slice(19, 23) +
    random.slice(24);
}

/**
 * The fields of a {@linkcode Task}: those of {@linkcode TaskRecord}, each set
 * (absent ones null). Merged with the class, so the fields are written once.
 */
export interface Task extends Required<TaskRecord> {}

/**
 * A task: a job name, its arguments and everything that happened to it. Its
 * fields are those of {@linkcode TaskRecord}, each set (absent ones null).
 *
 * @example
 * ```ts
 * import { PulsarQueue, TaskStatus } from "@pq/queue";
 * const app = new PulsarQueue({ taskPaths: ["./examples/jobs/"] });
 * await using api = await app.api().start();
 * const task = await api.tasks.queue("addition", { a: 4, b: 6 });
 * if (task.status === TaskStatus.SUCCESS) console.log(task.result); // 10
 * ```
 */
export class Task {
  /**
   * On a task returned with `callback: false`: resolves with the task once
   * it is done (the final attempt of a retried task). Undefined on others.
   */
  get doneCallback(): Promise<Task> | undefined {
    return undefined;
  }

  /**
   * Makes a task from its record.
   *
   * Each field is assigned by name, not in a loop over the fields: this is
   * on the hot path, and a loop measured 344 ns a task against 15 ns (the
   * object's shape is then built one keyed store at a time). A test holds
   * this list to the fields.
   */
  constructor(record: TaskRecord) {
    this.id = record.id;
    this.name = record.name;
    this.queue = record.queue;
    this.status = record.status;
    this.timeQueued = record.timeQueued;
    this.timeStarted = record.timeStarted ?? null;
    this.timeEnded = record.timeEnded ?? null;
    this.delay = record.delay;
    this.timeout = record.timeout ?? null;
    this.retry = record.retry;
    this.kwargs = record.kwargs;
    this.meta = record.meta;
    this.fromTask = record.fromTask ?? null;
    this.result = record.result ?? null;
    this.exception = record.exception ?? null;
    this.stacktrace = record.stacktrace ?? null;
    this.worker = record.worker ?? null;
    this.node = record.node ?? null;
    this.runInfo = record.runInfo;
    this.progress = record.progress ?? null;
    this.steps = record.steps ?? null;
    this.traceparent = record.traceparent ?? null;
  }

  /** The status name: `"SUCCESS"`, `"QUEUED"`... */
  get statusString(): string {
    return statusString(this.status);
  }

  /** When the task will be revoked (Unix seconds), or `null` without timeout. */
  get expiry(): number | null {
    return this.timeout ? this.timeQueued + this.delay + this.timeout : null;
  }

  /** True once the task is in a final state (SUCCESS, FAILURE, REVOKED). */
  done(): boolean {
    return FINISHED_STATES.has(this.status);
  }

  /** `task.<name><<id>><<STATUS>>`, as pulsar-queue. */
  toString(): string {
    return `task.${this.name}<${this.id}><${this.statusString}>`;
  }

  /** The plain record of this task. */
  toJSON(): TaskRecord {
    // Typed as every field: the compiler holds this literal to the record.
    const record: Required<TaskRecord> = {
      id: this.id,
      name: this.name,
      queue: this.queue,
      status: this.status,
      timeQueued: this.timeQueued,
      timeStarted: this.timeStarted,
      timeEnded: this.timeEnded,
      delay: this.delay,
      timeout: this.timeout,
      retry: this.retry,
      kwargs: this.kwargs,
      meta: this.meta,
      fromTask: this.fromTask,
      result: this.result,
      exception: this.exception,
      stacktrace: this.stacktrace,
      worker: this.worker,
      node: this.node,
      runInfo: this.runInfo,
      progress: this.progress,
      steps: this.steps,
      traceparent: this.traceparent,
    };
    return record;
  }
}
