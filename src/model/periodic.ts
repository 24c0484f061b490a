/**
 * When periodic jobs run: the run times of a job with `runEvery` (and an
 * optional `anchor`) or `cron`. Times are Unix seconds.
 *
 * Run times form a fixed grid that every process computes alike: for
 * `runEvery`, `anchor + k × runEvery` (the anchor defaults to 0, the Unix
 * epoch, so `runEvery: 3600` runs on the hour, UTC); for `cron`, the times
 * the expression names, evaluated in UTC. So every server agrees on which
 * run is which, and a run can be queued at most once.
 * @module
 */
import { Cron } from "croner";

/**
 * The options of a job that make it periodic (a job class has them as
 * statics): written here, not taken from the job module, so that the job
 * module's checks can use this one without an import cycle.
 */
export interface PeriodicOptions {
  /** Seconds between runs. */
  readonly runEvery?: number;
  /** A time (Unix seconds) the runs are aligned to. */
  readonly anchor?: number;
  /** A cron expression (UTC), instead of `runEvery`. */
  readonly cron?: string;
}

/** The run times of one periodic job. */
export interface Schedule {
  /** The first run time strictly after `time`, or undefined (none left). */
  nextAfter(time: number): number | undefined;
  /** The last run time at or before `time`, or undefined (none yet). */
  latestAtOrBefore(time: number): number | undefined;
}

/**
 * Why `expression` is not a cron expression croner accepts (in the IANA
 * `timezone`, UTC by default), or undefined when it is one.
 */
export function cronError(
  expression: unknown,
  timezone = "UTC",
): string | undefined {
  if (typeof expression !== "string") return "not a string";
  try {
    makeCron(expression, timezone);
    return undefined;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}

function makeCron(expression: string, timezone: string): Cron {
  // No function given: croner only parses and computes, it starts no timer.
  return new Cron(expression, { timezone, paused: true });
}

/** Run times every `seconds`, aligned to `anchor`. */
export function everySchedule(seconds: number, anchor = 0): Schedule {
  const index = (time: number) => Math.floor((time - anchor) / seconds);
  return {
    nextAfter(time) {
      let next = anchor + (index(time) + 1) * seconds;
      // Rounding may land on `time` itself: step once more.
      if (next <= time) next += seconds;
      return next;
    },
    latestAtOrBefore(time) {
      let latest = anchor + index(time) * seconds;
      if (latest > time) latest -= seconds;
      return latest;
    },
  };
}

/**
 * Run times of a cron expression (5, 6 or 7 fields), in the IANA
 * `timezone` (UTC by default; daylight saving days as croner handles them).
 */
export function cronSchedule(expression: string, timezone = "UTC"): Schedule {
  const cron = makeCron(expression, timezone);
  return {
    nextAfter(time) {
      const next = cron.nextRun(new Date(time * 1000));
      return next ? next.getTime() / 1000 : undefined;
    },
    latestAtOrBefore(time) {
      // Cron times are whole seconds, and previousRuns looks strictly
      // before its reference: the reference is the second after `time`.
      const reference = new Date((Math.floor(time) + 1) * 1000);
      const [latest] = cron.previousRuns(1, reference);
      return latest ? latest.getTime() / 1000 : undefined;
    },
  };
}

/** The schedule of a job (class), or undefined when it is not periodic. */
export function scheduleOf(cls: PeriodicOptions): Schedule | undefined {
  if (cls.cron) return cronSchedule(cls.cron);
  if (cls.runEvery) return everySchedule(cls.runEvery, cls.anchor ?? 0);
  return undefined;
}

/** True for a job that runs on a schedule (`runEvery` or `cron`). */
export function isPeriodic(cls: PeriodicOptions): boolean {
  return Boolean(cls.runEvery || cls.cron);
}

/**
 * `[name, seconds]` of the periodic job, among `jobs`, whose next run comes
 * soonest after `now` (seconds until then); undefined when none of them is
 * periodic.
 */
export function soonest(
  jobs: ReadonlyArray<readonly [string, PeriodicOptions]>,
  now: number,
): [string, number] | undefined {
  let best: [string, number] | undefined;
  for (const [name, cls] of jobs) {
    const next = scheduleOf(cls)?.nextAfter(now);
    if (next === undefined) continue;
    const seconds = next - now;
    if (!best || seconds < best[1]) best = [name, seconds];
  }
  return best;
}
