/**
 * Job statistics: each job's retained tasks counted by status, and the
 * run-time percentiles of its newest ended tasks. A store computes them for
 * every job at once, on its side (`sqlite/job_stats.ts`,
 * `redis/job_stats.ts`); this file holds what they share: the types, the
 * check of the options, and the tally that turns counts and run times into
 * {@linkcode JobStats}.
 *
 * Invariants: run times are of ended tasks only (`ENDED_STATES` of the model),
 * the newest first (by `timeQueued`, then id), at most `runs` of a job;
 * percentiles are by nearest rank; a job's stats say when its counts cover
 * only its newest tasks (`sampled`).
 * @module
 */
import { statusString } from "../model/status.ts";

/** Run times read per job when the options do not say. */
export const JOB_RUNS_DEFAULT = 1000;
/** The most run times read per job. */
export const JOB_RUNS_MAX = 10_000;
/** The most job names in one request. */
const JOBS_MAX = 10_000;

/** What a store's `jobStats` computes. */
export interface JobStatsOptions {
  /** The jobs wanted (every job with a retained task when absent). */
  jobs?: readonly string[];
  /**
   * Run times are of the newest this many ended tasks of each job: 1 to
   * {@linkcode JOB_RUNS_MAX}, default {@linkcode JOB_RUNS_DEFAULT}.
   */
  runs?: number;
}

/** The options checked: the names as a set, the runs as a number. */
export interface JobStatsFilter {
  /** The jobs wanted, or undefined for all. */
  jobs?: ReadonlySet<string>;
  /** The most run times a job. */
  runs: number;
}

/** Counts and run-time percentiles of a job, over its retained tasks. */
export interface JobStats {
  /** Tasks counted, by status name (`SUCCESS`, `QUEUED`...). */
  counts: Record<string, number>;
  /** How many tasks were counted. */
  tasks: number;
  /** True when only the newest tasks were counted: there are more. */
  sampled: boolean;
  /** How many run times the percentiles are of. */
  runs: number;
  /** Median run time in seconds, of the ended tasks read (null: none). */
  p50: number | null;
  /** 95th percentile. */
  p95: number | null;
  /** 99th percentile. */
  p99: number | null;
}

/**
 * Checks the options of a job stats request; a `TypeError` or `RangeError`
 * naming what is wrong.
 */
export function checkJobStatsOptions(
  options: JobStatsOptions = {},
): JobStatsFilter {
  if (typeof options !== "object" || options === null) {
    throw new TypeError("Job stats options must be an object");
  }
  const { jobs, runs = JOB_RUNS_DEFAULT } = options;
  if (!Number.isInteger(runs) || runs < 1 || runs > JOB_RUNS_MAX) {
    throw new RangeError(
      `Job stats 'runs' must be an integer from 1 to ${JOB_RUNS_MAX}, not ${
        JSON.stringify(runs)
      }`,
    );
  }
  if (jobs === undefined) return { runs };
  if (
    !Array.isArray(jobs) || jobs.length > JOBS_MAX ||
    !jobs.every((name) => typeof name === "string" && name.length > 0)
  ) {
    throw new TypeError(
      `Job stats 'jobs' must be a list of at most ${JOBS_MAX} job names`,
    );
  }
  return { jobs: new Set(jobs), runs };
}

/** Percentile by nearest rank of sorted values (null when none). */
export function percentile(
  sorted: readonly number[],
  p: number,
): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.max(0, Math.ceil(p * sorted.length) - 1)];
}

/** What is known of one job while its stats are gathered. */
interface JobTally {
  counts: Map<number, number>;
  /** `[timeQueued, seconds]` of ended tasks, in the order they came. */
  runs: Array<[number, number]>;
  sampled: boolean;
}

/**
 * Gathers counts and run times, from any number of reads (one a queue, a
 * page...), and gives each job's {@linkcode JobStats}.
 *
 * @example
 * ```ts
 *
 * const tallies = new JobTallies({ runs: 100 });
 * tallies.count("addition", 1, 3);
 * tallies.ran("addition", 1_700_000_000, 0.25);
 * tallies.stats().get("addition")?.p50; // 0.25
 * ```
 */
export class JobTallies {
  readonly #filter: JobStatsFilter;
  readonly #jobs = new Map<string, JobTally>();

  /** Gathers for the jobs and runs of a checked filter. */
  constructor(filter: JobStatsFilter) {
    this.#filter = filter;
  }

  /** True when `job` is wanted. */
  wants(job: string): boolean {
    return this.#filter.jobs?.has(job) ?? true;
  }

  /** Counts `n` tasks of `job` with `status`. */
  count(job: string, status: number, n = 1): void {
    const tally = this.#tally(job);
    if (tally) tally.counts.set(status, (tally.counts.get(status) ?? 0) + n);
  }

  /** Notes the run time of an ended task of `job` queued at `time`. */
  ran(job: string, time: number, seconds: number): void {
    if (Number.isFinite(time) && Number.isFinite(seconds)) {
      this.#tally(job)?.runs.push([time, Math.max(0, seconds)]);
    }
  }

  /** Notes that only the newest tasks of `job` were counted. */
  sampled(job: string): void {
    const tally = this.#tally(job);
    if (tally) tally.sampled = true;
  }

  /**
   * Each job's stats, by name (sorted): run times of its newest `runs`
   * ended tasks; every job asked for by name is there, even with no task.
   */
  stats(): Map<string, JobStats> {
    for (const job of this.#filter.jobs ?? []) this.#tally(job);
    const out = new Map<string, JobStats>();
    for (const name of [...this.#jobs.keys()].sort()) {
      const tally = this.#jobs.get(name)!;
      // Newest first: a store may give them from several reads (queues).
      const seconds = tally.runs
        .sort((a, b) => b[0] - a[0])
        .slice(0, this.#filter.runs)
        .map(([, s]) => s)
        .sort((a, b) => a - b);
      const counts: Record<string, number> = {};
      let tasks = 0;
      for (const [status, n] of tally.counts) {
        const key = statusString(status);
        counts[key] = (counts[key] ?? 0) + n;
        tasks += n;
      }
      out.set(name, {
        counts,
        tasks,
        sampled: tally.sampled,
        runs: seconds.length,
        p50: percentile(seconds, 0.5),
        p95: percentile(seconds, 0.95),
        p99: percentile(seconds, 0.99),
      });
    }
    return out;
  }

  #tally(job: string): JobTally | undefined {
    if (!this.wants(job)) return undefined;
    let tally = this.#jobs.get(job);
    if (!tally) {
      tally = { counts: new Map(), runs: [], sampled: false };
      this.#jobs.set(job, tally);
    }
    return tally;
  }
}
