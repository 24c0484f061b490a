/**
 * Job statistics of the embedded store, computed by SQLite over the
 * `tasks` table (see `../job_stats.ts` for what they are): two statements,
 * one a request, whatever the number of jobs.
 *
 * - Counts: one aggregate, `GROUP BY name, status`, of every retained row
 *   (a finished row past its retention is not counted, as `get` does not
 *   read it). Every task is counted: never `sampled`.
 * - Run times: a window (`row_number() OVER (PARTITION BY name ...)`)
 *   numbers the ended rows of each job newest first (by `time_queued`,
 *   then id, the search order); only the rowids are sorted, and only the
 *   newest `runs` of each job are read whole. Their start and end are in
 *   the encoded record, so those records are decoded here.
 *
 * @module
 */
import type { DatabaseSync, SQLInputValue } from "node:sqlite";
import type { Codec } from "../../model/codec.ts";
import {
  checkJobStatsOptions,
  type JobStats,
  type JobStatsOptions,
  JobTallies,
} from "../job_stats.ts";
import { ENDED_STATES } from "../../model/status.ts";

/**
 * The stats of every job with a retained task in the SQLite database `db`
 * (or of `options.jobs`), by job name.
 *
 * @param db The store's database (its `tasks` table).
 * @param codec How its records are encoded.
 * @param now The store's clock, Unix seconds (retention).
 * @param options The jobs and the run times wanted.
 */
export function sqliteJobStats(
  db: DatabaseSync,
  codec: Codec,
  now: number,
  options: JobStatsOptions = {},
): Map<string, JobStats> {
  const filter = checkJobStatsOptions(options);
  const tallies = new JobTallies(filter);
  const names = filter.jobs ? [...filter.jobs] : [];
  const retained = "(expires_at IS NULL OR expires_at >= ?)";
  const named = filter.jobs
    ? ` AND name IN (${names.map(() => "?").join()})`
    : "";
  const params: SQLInputValue[] = [now, ...names];
  const counts = db.prepare(
    `SELECT name, status, count(*) AS n FROM tasks
     WHERE ${retained}${named} GROUP BY name, status`,
  ).all(...params) as Array<{ name: string; status: number; n: number }>;
  for (const row of counts) tallies.count(row.name, row.status, row.n);
  const runs = db.prepare(
    `SELECT t.name, t.time_queued, t.payload FROM (
       SELECT rowid AS r, row_number() OVER (
         PARTITION BY name ORDER BY time_queued DESC, id DESC) AS k
       FROM tasks
       WHERE state = 'finished' AND status IN (${[...ENDED_STATES].join()})
         AND ${retained}${named}
     ) AS w JOIN tasks AS t ON t.rowid = w.r WHERE w.k <= ?`,
  ).iterate(...params, filter.runs) as Iterable<
    { name: string; time_queued: number; payload: Uint8Array }
  >;
  for (const row of runs) {
    const seconds = runSeconds(codec, row.payload);
    if (seconds !== undefined) tallies.ran(row.name, row.time_queued, seconds);
  }
  return tallies.stats();
}

/** How long an encoded task ran, or undefined when it does not say. */
function runSeconds(codec: Codec, payload: Uint8Array): number | undefined {
  let record: unknown;
  try {
    record = codec.decode(payload);
  } catch {
    return undefined; // A malformed record: `get` reports it, not the stats.
  }
  const { timeStarted, timeEnded } = (record ?? {}) as Record<string, unknown>;
  return typeof timeStarted === "number" && typeof timeEnded === "number"
    ? timeEnded - timeStarted
    : undefined;
}
