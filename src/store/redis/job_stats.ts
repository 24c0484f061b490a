/**
 * Job statistics of the Redis store, computed by the server (see
 * `../job_stats.ts` for what they are): one read-only script a queue
 * (`lua/job_stats.lua`), all sent at once, over what the store keeps of a
 * queue: its search index (id → timeQueued, newest first), its records of
 * queued and running tasks (`tasks`, `started`) and its final records
 * (`done`).
 *
 * A script blocks the server while it runs, so each reads at most
 * {@linkcode REDIS_SCAN} tasks of its queue, the newest: a queue holding
 * more marks its jobs `sampled`. Only the counts and the newest run times
 * of each job come back, not the records; they are merged here across
 * queues (the newest `runs` of a job over all its queues).
 * @module
 */
import {
  checkJobStatsOptions,
  type JobStats,
  type JobStatsOptions,
  JobTallies,
} from "../job_stats.ts";
import type { RedisContext } from "./context.ts";
import type { Registry } from "./registry.ts";

/** The most tasks of one queue a script reads (the newest). */
export const REDIS_SCAN = 5000;

/**
 * The stats of every job with a task in the newest {@linkcode REDIS_SCAN}
 * of some queue of the registry (or of `options.jobs`), by job name.
 */
export async function redisJobStats(
  ctx: RedisContext,
  registry: Registry,
  options: JobStatsOptions = {},
): Promise<Map<string, JobStats>> {
  const filter = checkJobStatsOptions(options);
  const tallies = new JobTallies(filter);
  const queues = await registry.queues();
  const replies = await Promise.all(
    queues.map((queue) =>
      ctx.scripts.jobStats(ctx.keys.queue(queue), {
        codec: ctx.codec.name,
        scan: REDIS_SCAN,
        runs: filter.runs,
      })
    ),
  );
  for (const { entries, jobs } of replies) {
    for (const { name, counts, runs } of jobs) {
      if (!tallies.wants(name)) continue;
      for (const [status, n] of counts) tallies.count(name, status, n);
      for (const [queued, seconds] of runs) tallies.ran(name, queued, seconds);
      if (entries > REDIS_SCAN) tallies.sampled(name);
    }
  }
  return tallies.stats();
}
