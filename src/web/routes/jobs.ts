/**
 * The jobs: `GET /api/jobs` (every job known here or advertised by a live
 * worker, with its stats), `GET /api/jobs/:name` (one, with its stats) and
 * `POST /api/jobs/:name/queue` (`{ kwargs, queue?, delay?, timeout? }`: a
 * task of it, queued).
 *
 * Invariants: a name is decoded and checked before any read, a body
 * before anything is queued (the kwargs then by the job's schema, if it
 * has one here); the stats of every job come from one computation of the
 * store (`api.tasks.jobStats`), not one read a job.
 * @module
 */
import { z } from "zod";
import { TaskNotAvailable } from "../../model/errors.ts";
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

/** Every job known here or advertised by a live worker, by name. */
async function jobList(api: Producer): Promise<Map<string, JobView>> {
  const jobs = new Map<string, JobView>();
  for (const [name, info] of api.tasks.jobList()) {
    const cls = api.registry.get(name);
    jobs.set(name, {
      name,
      ...info,
      defaultQueue: cls?.defaultQueue ?? null,
      timeout: cls?.timeout ?? null,
      maxConcurrency: cls?.maxConcurrency ?? null,
      schema: cls?.schema !== undefined,
      local: true,
      workers: [],
    });
  }
  for (const worker of await api.workers()) {
    for (const advert of worker.jobs) {
      const job = jobs.get(advert.name) ?? {
        ...advert,
        doc: null,
        mode: null,
        type: null,
        schema: false,
        local: false,
        workers: [],
      };
      job.workers.push(worker.worker);
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
