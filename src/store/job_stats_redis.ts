/**
 * Job statistics of the Redis store, computed by the server (see
 * `job_stats.ts` for what they are): one script a queue (`job_stats.lua`,
 * read only), all sent at once, over what the store keeps of a queue: its
 * search index (id → timeQueued, newest first), its records of queued and
 * running tasks (`tasks`, `started`) and its final records (`done`).
 *
 * A script blocks the server while it runs, so each reads at most
 * {@linkcode REDIS_SCAN} tasks of its queue, the newest: a queue holding
 * more marks its jobs `sampled`. Only the counts and the newest run times
 * of each job come back, not the records; they are merged here across
 * queues (the newest `runs` of a job over all its queues).
 *
 * The store wires it as one method (`RedisStore.jobStats`), with its
 * connection, its codec, its registered queues and their keys.
 * @module
 */
import type { CodecName } from "../model/codec.ts";
import {
  checkJobStatsOptions,
  type JobStats,
  type JobStatsOptions,
  JobTallies,
} from "./job_stats.ts";
import script from "./job_stats.lua" with { type: "text" };

/** The most tasks of one queue a script reads (the newest). */
export const REDIS_SCAN = 5000;

/** The keys of a queue the script reads. */
export interface JobStatsKeys {
  /** ZSET id → timeQueued of every task with a record in the queue. */
  readonly search: string;
  /** HASH id → record of a queued or running task. */
  readonly tasks: string;
  /** HASH id → final record. */
  readonly done: string;
  /** HASH id → start info of a running task. */
  readonly started: string;
}

/** What {@linkcode redisJobStats} reads a Redis store with. */
export interface RedisJobStatsSource {
  /** Sends one command on the store's connection; resolves with its reply. */
  send(args: readonly string[]): Promise<unknown>;
  /** The store's serializer. */
  codec: CodecName;
  /** The queues that may hold records (the store's registry of queues). */
  queues: readonly string[];
  /** A queue's keys. */
  keys(queue: string): JobStatsKeys;
}

/**
 * The stats of every job with a task in the newest {@linkcode REDIS_SCAN}
 * of some queue (or of `options.jobs`), by job name.
 *
 * @param source The store's connection, codec, queues and keys.
 * @param options The jobs and the run times wanted.
 */
export async function redisJobStats(
  source: RedisJobStatsSource,
  options: JobStatsOptions = {},
): Promise<Map<string, JobStats>> {
  const filter = checkJobStatsOptions(options);
  const tallies = new JobTallies(filter);
  const replies = await Promise.all(source.queues.map((queue) => {
    const keys = source.keys(queue);
    return source.send([
      "EVAL",
      script,
      "4",
      keys.search,
      keys.tasks,
      keys.done,
      keys.started,
      source.codec,
      String(REDIS_SCAN),
      String(filter.runs),
    ]);
  }));
  for (const reply of replies) {
    if (!Array.isArray(reply)) throw new TypeError("Bad job stats reply");
    const [entries, ...jobs] = reply;
    const sampled = Number(entries) > REDIS_SCAN;
    for (let i = 0; i + 2 < jobs.length; i += 3) {
      const name = String(jobs[i]);
      if (!tallies.wants(name)) continue;
      const counts = jobs[i + 1] as unknown[];
      for (let k = 0; k + 1 < counts.length; k += 2) {
        tallies.count(name, Number(counts[k]), Number(counts[k + 1]));
      }
      const runs = jobs[i + 2] as unknown[];
      for (let k = 0; k + 1 < runs.length; k += 2) {
        tallies.ran(name, Number(String(runs[k])), Number(String(runs[k + 1])));
      }
      if (sampled) tallies.sampled(name);
    }
  }
  return tallies.stats();
}
