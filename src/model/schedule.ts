/**
 * Schedules managed at run time (`api.schedules`): what a schedule is, how
 * its definition is checked at the boundary, and when it runs. Times are
 * Unix seconds.
 *
 * Invariants:
 * - A definition that passes {@linkcode checkSchedule} has exactly one of
 *   `every` and `cron`, a time zone `Intl` knows, `start` before `end`,
 *   and queue options `tasks.queue` accepts (without `id` and `callback`:
 *   each run's id is derived from the schedule and its due time).
 * - Run times are a fixed grid every process computes alike: `every`
 *   seconds from `start` (from the Unix epoch without one, as `runEvery`),
 *   or the times a cron expression names in its time zone, as croner
 *   computes them (a time that a change to daylight saving time skips runs
 *   at the first time after it; one the change back repeats runs once);
 *   none before `start` nor after `end`.
 * - A schedule has run `runs` times, the last for due time `lastDue`: a due
 *   time is taken at most once, and only after `since` (the last upsert or
 *   resume), so a change applies to the runs that come after it.
 * @module
 */
import { checkKnownKeys, didYouMean } from "./_did_you_mean.ts";
import { describeValue } from "./errors.ts";
import {
  cronError,
  cronSchedule,
  everySchedule,
  type Schedule,
} from "./periodic.ts";
import { checkQueueOptions, type QueueOptions } from "./queue_options.ts";
import type { Dict } from "./task.ts";

/**
 * The queue options of each run of a schedule: those of `tasks.queue` but
 * `id` (derived: `schedule:<id>:<due time in ms>`) and `callback` (none).
 */
export type ScheduleQueueOptions = Omit<QueueOptions, "id" | "callback">;

/**
 * A schedule as `api.schedules.upsert` takes it.
 *
 * @example
 * ```ts
 * import type { ScheduleInput } from "@pq/queue";
 * const nightly: ScheduleInput = {
 *   id: "nightly-report",
 *   job: "report",
 *   kwargs: { kind: "daily" },
 *   cron: "30 2 * * *",
 *   timezone: "Europe/Berlin",
 * };
 * ```
 */
export interface ScheduleInput {
  /** The schedule's id: 1 to 100 characters of `[A-Za-z0-9_.:-]`. */
  id: string;
  /** The job each run queues. */
  job: string;
  /** The kwargs of each run (default `{}`). */
  kwargs?: Dict;
  /** The queue options of each run (see {@linkcode ScheduleQueueOptions}). */
  options?: ScheduleQueueOptions;
  /** Seconds between runs (> 0), instead of `cron`. */
  every?: number;
  /** A cron expression (5, 6 or 7 fields, as croner reads), instead of `every`. */
  cron?: string;
  /** The IANA time zone of `cron` (default `UTC`). */
  timezone?: string;
  /** No run before: a Date, an ISO 8601 string or Unix seconds. */
  start?: Date | string | number;
  /** No run after: a Date, an ISO 8601 string or Unix seconds. */
  end?: Date | string | number;
  /** The most runs (a positive integer); then the schedule has ended. */
  limit?: number;
}

/** A checked schedule definition, as the store keeps it (times in seconds). */
export interface ScheduleDefinition {
  /** The schedule's id. */
  id: string;
  /** The job each run queues. */
  job: string;
  /** The kwargs of each run. */
  kwargs: Dict;
  /** The queue options of each run. */
  options: ScheduleQueueOptions;
  /** Seconds between runs, or absent for a cron schedule. */
  every?: number;
  /** The cron expression, or absent for an `every` schedule. */
  cron?: string;
  /** The IANA time zone of `cron` (`UTC` for an `every` schedule). */
  timezone: string;
  /** No run before this time (Unix seconds). */
  start?: number;
  /** No run after this time (Unix seconds). */
  end?: number;
  /** The most runs. */
  limit?: number;
}

/** The state of a stored schedule, changed only by the store. */
export interface ScheduleState {
  /** Bumped by every upsert, pause and resume: a run is taken at one. */
  version: number;
  /** Runs taken so far. */
  runs: number;
  /** The due time of the last run taken (Unix seconds), if any. */
  lastDue?: number;
  /** True while paused: no run is taken. */
  paused: boolean;
  /** The last upsert or resume (Unix seconds): no due time before it runs. */
  since: number;
  /** When it was first upserted (Unix seconds). */
  created: number;
}

/** A schedule as a store reads it: its definition and state. */
export interface StoredSchedule {
  /** What the schedule is. */
  definition: ScheduleDefinition;
  /** Its runs so far, and whether it is paused. */
  state: ScheduleState;
}

/**
 * A schedule as `api.schedules` reads it: its definition and state, and
 * when it runs next.
 *
 * @example
 * ```ts
 * import { PulsarQueue } from "@pq/queue";
 * await using api = await new PulsarQueue().api().start();
 * const info = await api.schedules.get("nightly-report");
 * console.log(info?.nextRuns.map((t) => new Date(t * 1000)));
 * ```
 */
export interface ScheduleInfo extends ScheduleDefinition {
  /** True while paused. */
  paused: boolean;
  /** Runs queued so far. */
  runs: number;
  /** The due time of the last run queued (Unix seconds), if any. */
  lastRun?: number;
  /** True once no run is left (`limit` reached, or past `end`). */
  ended: boolean;
  /** The next run times (Unix seconds), soonest first; none when ended. */
  nextRuns: number[];
  /** When it was first upserted (Unix seconds). */
  created: number;
  /** The last upsert or resume (Unix seconds). */
  since: number;
}

/** The channel a change of a schedule is published on (wakes the leader). */
export const SCHEDULES_CHANNEL = "schedules";

/** The keys of {@linkcode ScheduleInput}. */
export const SCHEDULE_KEYS = [
  "id",
  "job",
  "kwargs",
  "options",
  "every",
  "cron",
  "timezone",
  "start",
  "end",
  "limit",
] as const satisfies readonly (keyof ScheduleInput)[];

/** The most characters of a schedule id (its runs' ids stay within 128). */
export const SCHEDULE_ID_MAX = 100;

const SCHEDULE_ID_PATTERN = /^[A-Za-z0-9_.:-]{1,100}$/;

/** {@linkcode SCHEDULE_ID_PATTERN} in words, for messages. */
export const SCHEDULE_ID_RULE =
  `1 to ${SCHEDULE_ID_MAX} characters of [A-Za-z0-9_.:-]`;

/** Throws a TypeError unless `id` is a schedule id; `what` names the call. */
export function checkScheduleId(id: unknown, what: string): string {
  if (typeof id !== "string" || !SCHEDULE_ID_PATTERN.test(id)) {
    throw new TypeError(
      `Cannot ${what} as the schedule id must be ${SCHEDULE_ID_RULE}: got ${
        describeValue(id)
      }`,
    );
  }
  return id;
}

/** The id of the task of a schedule's run due at `due`. */
export function scheduleRunId(id: string, due: number): string {
  return `schedule:${id}:${Math.round(due * 1000)}`;
}

/**
 * Why `timezone` is not an IANA time zone `Intl` knows (with the close
 * names), or undefined when it is one.
 */
export function timezoneProblem(timezone: unknown): string | undefined {
  if (typeof timezone !== "string" || timezone === "") {
    return "an IANA time zone name such as 'Europe/Berlin' or 'UTC'";
  }
  try {
    new Intl.DateTimeFormat("en", { timeZone: timezone });
    return undefined;
  } catch {
    const names = [...Intl.supportedValuesOf("timeZone"), "UTC"];
    return `an IANA time zone name such as 'Europe/Berlin' or 'UTC'${
      didYouMean(timezone, names)
    }`;
  }
}

/**
 * A time as Unix seconds: a Date, an ISO 8601 string, or seconds; throws
 * a TypeError naming `what` otherwise.
 */
function toSeconds(value: unknown, what: string): number {
  const seconds = value instanceof Date
    ? value.getTime() / 1000
    : typeof value === "string"
    ? Date.parse(value) / 1000
    : typeof value === "number"
    ? value
    : NaN;
  if (!Number.isFinite(seconds)) {
    throw new TypeError(
      `Cannot upsert schedule as '${what}' must be a Date, an ISO 8601 time or Unix seconds: got ${
        describeValue(value)
      }`,
    );
  }
  return seconds;
}

/**
 * Checks a schedule as `api.schedules.upsert` takes it and gives its
 * definition; throws a TypeError (RangeError for `start` after `end`)
 * naming the bad key, its value and what it must be.
 */
export function checkSchedule(input: ScheduleInput): ScheduleDefinition {
  const fail = (what: string, expected: string, value: unknown): never => {
    throw new TypeError(
      `Cannot upsert schedule as '${what}' must be ${expected}: got ${
        describeValue(value)
      }`,
    );
  };
  if (typeof input !== "object" || input === null || Array.isArray(input)) {
    fail("schedule", "an object { id, job, every | cron, ... }", input);
  }
  checkKnownKeys(input, SCHEDULE_KEYS, "api.schedules.upsert");
  const id = checkScheduleId(input.id, "upsert schedule");
  if (typeof input.job !== "string" || input.job === "") {
    fail("job", "a job name", input.job);
  }
  const kwargs = input.kwargs ?? {};
  const options = input.options ?? {};
  if (typeof options !== "object" || options === null) {
    fail("options", "an object of queue options", options);
  }
  for (const key of ["id", "callback"] as const) {
    if (key in options) {
      throw new TypeError(
        `Cannot upsert schedule as 'options.${key}' is not a schedule's: ${
          key === "id"
            ? "each run's id is schedule:<id>:<due time in ms>"
            : "a run is queued with no caller waiting"
        }; leave it out`,
      );
    }
  }
  if (options.queue !== undefined && typeof options.queue !== "string") {
    fail("options.queue", "a queue name", options.queue);
  }
  checkKnownKeys(
    options,
    [
      "delay",
      "queue",
      "timeout",
      "metaParams",
      "priority",
      "dedupe",
      "rateLimitKey",
    ],
    "the options of api.schedules.upsert",
  );
  checkQueueOptions(kwargs, options, { job: input.job });
  const { every, cron } = input;
  if ((every === undefined) === (cron === undefined)) {
    throw new TypeError(
      `Cannot upsert schedule as it must have exactly one of 'every' (seconds) and 'cron': got ${
        every === undefined ? "neither" : "both"
      }`,
    );
  }
  if (
    every !== undefined &&
    !(typeof every === "number" && Number.isFinite(every) && every > 0)
  ) fail("every", "a positive number of seconds", every);
  const timezone = input.timezone ?? "UTC";
  const zoneProblem = timezoneProblem(timezone);
  if (zoneProblem) fail("timezone", zoneProblem, timezone);
  if (every !== undefined && timezone !== "UTC") {
    throw new TypeError(
      `Cannot upsert schedule as 'timezone' applies to 'cron' only: an 'every' schedule runs every ${every} s wherever it is; got ${
        describeValue(timezone)
      }`,
    );
  }
  if (cron !== undefined) {
    const problem = cronError(cron, timezone);
    if (problem) fail("cron", `a cron expression (${problem})`, cron);
  }
  const start = input.start === undefined
    ? undefined
    : toSeconds(input.start, "start");
  const end = input.end === undefined ? undefined : toSeconds(input.end, "end");
  if (start !== undefined && end !== undefined && !(start < end)) {
    throw new RangeError(
      `Cannot upsert schedule as 'start' must come before 'end': got ${
        new Date(start * 1000).toISOString()
      } and ${new Date(end * 1000).toISOString()}`,
    );
  }
  const { limit } = input;
  if (
    limit !== undefined && !(Number.isSafeInteger(limit) && limit > 0)
  ) fail("limit", "a positive integer (runs)", limit);
  return {
    id,
    job: input.job,
    kwargs,
    options,
    ...(every !== undefined && { every }),
    ...(cron !== undefined && { cron }),
    timezone,
    ...(start !== undefined && { start }),
    ...(end !== undefined && { end }),
    ...(limit !== undefined && { limit }),
  };
}

/** The run times of a definition, none before `start` nor after `end`. */
export function scheduleTimes(definition: ScheduleDefinition): Schedule {
  const { start, end } = definition;
  const grid = definition.cron !== undefined
    ? cronSchedule(definition.cron, definition.timezone)
    : everySchedule(definition.every!, start ?? 0);
  return {
    nextAfter(time) {
      // A time at `start` itself is a run: look from just before it.
      const from = start !== undefined && time < start ? start - 0.001 : time;
      const next = grid.nextAfter(from);
      return next === undefined || (end !== undefined && next > end)
        ? undefined
        : next;
    },
    latestAtOrBefore(time) {
      const latest = grid.latestAtOrBefore(
        end === undefined ? time : Math.min(time, end),
      );
      return latest === undefined || (start !== undefined && latest < start)
        ? undefined
        : latest;
    },
  };
}

/** True when a stored schedule has no run left at or after `now`. */
export function scheduleEnded(stored: StoredSchedule, now: number): boolean {
  const { definition, state } = stored;
  if (definition.limit !== undefined && state.runs >= definition.limit) {
    return true;
  }
  return scheduleTimes(definition).nextAfter(floorOf(stored, now)) ===
    undefined;
}

/** The time after which the next run is looked for: now, or later. */
function floorOf(stored: StoredSchedule, now: number): number {
  const { state } = stored;
  return Math.max(now, state.since, state.lastDue ?? -Infinity);
}

/**
 * The next `count` run times after `now`, soonest first: none taken yet,
 * none at or before `since`, within `limit` (paused or not).
 */
export function nextRunTimes(
  stored: StoredSchedule,
  now: number,
  count: number,
): number[] {
  const { definition, state } = stored;
  const left = definition.limit === undefined
    ? count
    : Math.min(count, definition.limit - state.runs);
  const times = scheduleTimes(definition);
  const out: number[] = [];
  let time = floorOf(stored, now);
  while (out.length < left) {
    const next = times.nextAfter(time);
    if (next === undefined) break;
    out.push(next);
    time = next;
  }
  return out;
}

/**
 * The due time to queue now, or undefined: the latest run time at or
 * before `now`, when it was not taken, is after `since`, and is at
 * most `window` seconds old (older runs are missed: no catch-up); never
 * for a paused or ended schedule.
 */
export function dueRunTime(
  stored: StoredSchedule,
  now: number,
  window: number,
): number | undefined {
  const { definition, state } = stored;
  if (state.paused) return undefined;
  if (definition.limit !== undefined && state.runs >= definition.limit) {
    return undefined;
  }
  const latest = scheduleTimes(definition).latestAtOrBefore(now);
  if (latest === undefined) return undefined;
  if (state.lastDue !== undefined && latest <= state.lastDue) return undefined;
  if (latest <= state.since || now - latest > window) return undefined;
  return latest;
}

/** A stored schedule as the API reads it, with its next `count` runs. */
export function scheduleInfo(
  stored: StoredSchedule,
  now: number,
  count = 5,
): ScheduleInfo {
  const { definition, state } = stored;
  const ended = scheduleEnded(stored, now);
  return {
    ...definition,
    paused: state.paused,
    runs: state.runs,
    ...(state.lastDue !== undefined && { lastRun: state.lastDue }),
    ended,
    nextRuns: ended ? [] : nextRunTimes(stored, now, count),
    created: state.created,
    since: state.since,
  };
}
