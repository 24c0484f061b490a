/**
 * Jobs written as functions: {@linkcode job} makes a {@linkcode Job} class
 * from `(ctx, kwargs) => result` and the job's options, checked as they
 * are given (an unknown option or a bad value names itself).
 * @module
 */
import { checkKnownKeys } from "../model/_did_you_mean.ts";
import {
  JOB_OPTION_KEYS,
  type JobOptions,
  slugifyJobName,
  validateJobOptions,
} from "../model/job_options.ts";
import type { Dict } from "../model/task.ts";
import { Job, type JobClass } from "./job.ts";

/** A job written as a function: `(ctx, kwargs) => result`. */
export type JobFunction<K> = (ctx: Job, kwargs: K) => unknown;

/**
 * Makes a job from a function. The name is `options.name`, or the function's
 * name (slugified: `queue_from_task` → `queue.from.task`).
 *
 * @param fn `(ctx, kwargs) => result`: a named function (its name is the
 * job's).
 * @returns The job class: export it from a module of `taskPaths`.
 * @throws {TypeError} for a function without a name.
 *
 * @example
 * ```ts
 * import { job } from "@pq/queue";
 * export const addition = job(
 *   function addition(_ctx, { a = 0, b = 0 }: { a?: number; b?: number }) {
 *     return a + b;
 *   },
 * );
 * export const subtraction = job(
 *   { name: "subtraction", maxRetries: 3 },
 *   (_ctx, { a = 0, b = 0 }: { a?: number; b?: number }) => a - b,
 * );
 * ```
 */
export function job<K extends Dict>(fn: JobFunction<K>): JobClass;
/**
 * Makes a job from options and a function.
 *
 * @param options The job's name and options (see {@linkcode JobOptions}).
 * @param fn `(ctx, kwargs) => result`.
 * @returns The job class: export it from a module of `taskPaths`.
 * @throws {TypeError} for an unknown option or a bad value, naming it.
 *
 * @example
 * ```ts
 * import { job } from "@pq/queue";
 * export const readText = job(
 *   { name: "read.text", timeout: 10 },
 *   (_ctx, { input }: { input: string }) => Deno.readTextFile(input),
 * );
 * ```
 */
export function job<K extends Dict>(
  options: JobOptions,
  fn: JobFunction<K>,
): JobClass;
export function job<K extends Dict>(
  first: JobOptions | JobFunction<K>,
  second?: JobFunction<K>,
): JobClass {
  const options: JobOptions = typeof first === "function" ? {} : first;
  const fn = typeof first === "function" ? first : second;
  if (typeof options !== "object" || options === null) {
    throw new TypeError(
      `Cannot make a job as its options must be an object: got ${options}`,
    );
  }
  checkKnownKeys(
    options,
    JOB_OPTION_KEYS,
    `job '${options.name ?? fn?.name ?? "?"}'`,
  );
  if (typeof fn !== "function") {
    throw new TypeError(
      `Cannot make a job as its function is missing: got ${typeof fn}`,
    );
  }
  const rawName = options.name ?? fn.name;
  if (!rawName) {
    throw new TypeError(
      "Cannot make a job without a name: pass a named function or options.name",
    );
  }
  const name = slugifyJobName(rawName);
  validateJobOptions(name, options);
  const FunctionJob = class extends Job {
    override run(kwargs: Dict): unknown {
      return fn(this, kwargs as K);
    }
  };
  // `name` is a read-only property of every class: the job name goes in
  // `jobName` instead.
  const { name: _name, ...statics } = options;
  Object.assign(FunctionJob, statics, { jobName: name });
  return FunctionJob;
}
