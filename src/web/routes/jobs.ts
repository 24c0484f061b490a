/**
 * The jobs: `GET /api/jobs` (every job known here or advertised by a live
 * worker, with its stats), `GET /api/jobs/:name` (one, with its stats) and
 * `POST /api/jobs/:name/queue` (`{ kwargs, queue?, delay?, timeout? }`: a
 * task of it, queued).
 *
 * Invariants: a name is decoded and checked before any read, a body
 * before anything is queued (the kwargs then by the job's schema, if it
 * has one here); the stats of every job come from one computation of the
 * store (`api.tasks.jobStats`), not one read a job; a job's workers are
 * the live workers that advertise it and consume its queue (a worker that
 * has its code but not its queue never runs its tasks).
 * @module
 */
import { z } from "zod";
import { TaskNotAvailable } from "../../model/errors.ts";
import { scheduleOf } from "../../model/periodic.ts";
import type { RetryDelay } from "../../model/retry_delay.ts";
import type { Dict } from "../../model/task.ts";
import type { Producer } from "../../producer/producer.ts";
import type { JobListView, JobPageView, JobView } from "../api_types.ts";
import type { RouteContext } from "../route_context.ts";
import { decodePath, NAME, parse, readJson } from "../request_input.ts";
import { json } from "../responses.ts";
import { queued } from "./tasks.ts";

/** The body of `POST /api/jobs/:name/queue`. */
const QueueSchema = z.strictObject({
  kwargs: z.record(z.string(), z.unknown()).default({}),
  queue: NAME.optional(),
  delay: z.number().nonnegative().optional(),
  timeout: z.number().positive().optional(),
});

/** A retry delay as text: `5 s`, `exponential from 1 s to 300 s, jitter`. */
export function retryDelayText(delay: RetryDelay | undefined): string | null {
  if (delay === undefined) return null;
  if (typeof delay === "number") return `${delay} s`;
  return `${delay.type} from ${delay.base} s to ${delay.max ?? 86_400} s${
    delay.jitter ? ", jitter" : ""
  }`;
}

/** Every job known here or advertised by a live worker, by name. */
async function jobList(api: Producer): Promise<Map<string, JobView>> {
  const jobs = new Map<string, JobView>();
  const fallback = api.settings.defaultTaskQueue;
  const now = Date.now() / 1000;
  for (const [name, info] of api.tasks.jobList()) {
    const cls = api.registry.get(name);
    const schedule = cls && scheduleOf(cls);
    jobs.set(name, {
      name,
      ...info,
      defaultQueue: cls?.defaultQueue ?? null,
      queue: cls?.defaultQueue ?? fallback,
      timeout: cls?.timeout ?? null,
      maxConcurrency: cls?.maxConcurrency ?? null,
      maxRetries: cls?.maxRetries ?? null,
      retryDelay: retryDelayText(cls?.retryDelay),
      schedule: cls?.cron
        ? `cron ${cls.cron} (UTC)`
        : cls?.runEvery
        ? `every ${cls.runEvery} s${cls.anchor ? ` from ${cls.anchor}` : ""}`
        : null,
      nextRun: schedule?.nextAfter(now) ?? null,
      schema: cls?.schema !== undefined,
      local: true,
      workers: [],
    });
  }
  for (const worker of await api.workers()) {
    for (const advert of worker.jobs) {
      const job = jobs.get(advert.name) ?? {
        ...advert,
        queue: advert.defaultQueue ?? fallback,
        doc: null,
        mode: null,
        type: null,
        maxRetries: null,
        retryDelay: null,
        schedule: null,
        nextRun: null,
        schema: false,
        local: false,
        workers: [],
      };
      if (worker.queues.includes(job.queue)) job.workers.push(worker.worker);
      jobs.set(advert.name, job);
    }
  }
  return jobs;
}

/** `GET /api/jobs`. */
export async function listJobs({ api }: RouteContext): Promise<Response> {
  const jobs = [...(await jobList(api)).values()].sort((a, b) =>
    a.name < b.name ? -1 : 1
  );
  const stats = await api.tasks.jobStats({ jobs: jobs.map((job) => job.name) });
  const view: JobListView = {
    jobs: jobs.map((job) => ({ ...job, stats: stats.get(job.name)! })),
  };
  return json(view);
}

/** `GET /api/jobs/:name`: 404 for a job neither here nor on a worker. */
export async function readJob(
  { api, params }: RouteContext,
): Promise<Response> {
  const name = parse(NAME, decodePath(params.name ?? ""), "job name");
  const job = (await jobList(api)).get(name);
  if (!job) {
    throw new TaskNotAvailable(name, { hint: " here nor on a live worker" });
  }
  const view: JobPageView = {
    job,
    stats: (await api.tasks.jobStats({ jobs: [name] })).get(name)!,
  };
  return json(view);
}

/** `POST /api/jobs/:name/queue`. */
export async function queueJob(
  { api, params, request }: RouteContext,
): Promise<Response> {
  const name = decodePath(params.name ?? "");
  const body = parse(QueueSchema, await readJson(request), "task");
  return queued(
    await api.tasks.queue(name, body.kwargs as Dict, {
      callback: false,
      ...(body.queue !== undefined && { queue: body.queue }),
      ...(body.delay !== undefined && { delay: body.delay }),
      ...(body.timeout !== undefined && { timeout: body.timeout }),
    }),
  );
}
