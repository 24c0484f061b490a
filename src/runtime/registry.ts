/**
 * The job registry: every job found in the `taskPaths` modules, by name.
 * @module
 */
import { appFileUrl } from "./_paths.ts";
import { importMapHint } from "./_deno_command.ts";
import {
  Concurrency,
  type ModeName,
  modeName,
  PULSAR_MODE_LABELS,
} from "../model/execution_mode.ts";
import { isRegistrableJob, type JobClass, jobNameOf } from "./job.ts";
import { validateJobOptions } from "../model/job_options.ts";
import { isPeriodic } from "../model/periodic.ts";
import type { RateLimit } from "../model/rate_limit.ts";

/** What `jobList` reports of a job. */
export interface JobInfo {
  /** What the job does. */
  doc: string | null;
  /** How `doc` is written. */
  docSyntax: "markdown";
  /**
   * pulsar-queue's name of the mode: `asyncio`, `thread`, `process`, or null
   * when the job did not set one.
   */
  concurrency: string | null;
  /** The execution mode as the README names it (ASYNC_IO when not set). */
  mode: ModeName;
  /** `periodic` when the job has `runEvery` or `cron`, else `regular`. */
  type: "regular" | "periodic";
  /** The priority of its tasks queued without one, or null when unset. */
  priority: number | null;
  /**
   * Its `rateLimit` (`{ tasks, per }`), or null when unset; `keyed` when it
   * has a `rateLimitKey` function.
   */
  rateLimit: (RateLimit & { keyed: boolean }) | null;
}

/** The module each job loaded by `loadRegistry` came from. */
const JOB_MODULES = new WeakMap<JobClass, string>();

/**
 * The module specifier a job was loaded from (a Web Worker or subprocess
 * imports it to run the job), or undefined for a job defined elsewhere.
 */
export function jobModule(cls: JobClass): string | undefined {
  return JOB_MODULES.get(cls);
}

/** Jobs by name. */
export class JobRegistry {
  readonly #jobs = new Map<string, JobClass>();

  /** Registers a job class under its name; a different class with the same name is an error. */
  add(cls: JobClass, origin = "code"): void {
    const name = jobNameOf(cls);
    validateJobOptions(name, cls);
    const known = this.#jobs.get(name);
    if (known && known !== cls) {
      throw new Error(
        `Cannot register job '${name}' from ${origin}: another job has that name`,
      );
    }
    this.#jobs.set(name, cls);
  }

  /** The job of a name, or undefined. */
  get(name: string): JobClass | undefined {
    return this.#jobs.get(name);
  }

  /** True when a job of that name is registered. */
  has(name: string): boolean {
    return this.#jobs.has(name);
  }

  /** Every job name, sorted. */
  names(): string[] {
    return [...this.#jobs.keys()].sort();
  }

  /** `[name, info]` pairs of the named jobs (all when absent; unknown names skipped). */
  jobList(names?: readonly string[]): Array<[string, JobInfo]> {
    const wanted = names ?? this.names();
    return wanted.flatMap((name): Array<[string, JobInfo]> => {
      const cls = this.#jobs.get(name);
      if (!cls) return [];
      return [[name, {
        doc: cls.doc ?? null,
        docSyntax: "markdown",
        concurrency: cls.concurrency
          ? PULSAR_MODE_LABELS[cls.concurrency]
          : null,
        mode: modeName(cls.concurrency ?? Concurrency.ASYNC_IO),
        type: isPeriodic(cls) ? "periodic" : "regular",
        priority: cls.priority ?? null,
        rateLimit: cls.rateLimit
          ? { ...cls.rateLimit, keyed: cls.rateLimitKey !== undefined }
          : null,
      }]];
    });
  }

  /** The periodic jobs (`runEvery` or `cron`). */
  periodic(): JobClass[] {
    return [...this.#jobs.values()].filter(isPeriodic);
  }
}

/** Module file names a folder contributes: `.ts`/`.js` not starting with `_`, tests excluded. */
function isJobModuleFile(name: string): boolean {
  return /\.(m?ts|m?js|tsx|jsx)$/.test(name) && !name.startsWith("_") &&
    !/_test\.[a-z]+$/.test(name) && !name.endsWith(".d.ts");
}

/** The module specifiers a task path stands for. */
async function modulesOf(path: string, baseDir: string): Promise<string[]> {
  const isPath = /^(\.{1,2}\/|\/|file:)/.test(path) ||
    !/^[a-z][a-z0-9+.-]*:|^@/i.test(path);
  if (!isPath) return [path];
  const url = appFileUrl(path, baseDir);
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(url);
  } catch (error) {
    throw new Error(`Cannot load jobs from '${path}': ${String(error)}`, {
      cause: error,
    });
  }
  if (!info.isDirectory) return [url.href];
  const files: string[] = [];
  for await (const entry of Deno.readDir(url)) {
    if (entry.isFile && isJobModuleFile(entry.name)) {
      files.push(new URL(entry.name, url.href + "/").href);
    }
  }
  return files.sort();
}

/**
 * Imports every module of `taskPaths` (module files, folders and package
 * specifiers) and registers the jobs they export. A module that fails to
 * import stops with an error naming it.
 */
export async function loadRegistry(
  taskPaths: readonly string[],
  baseDir: string = Deno.cwd(),
): Promise<JobRegistry> {
  const registry = new JobRegistry();
  for (const path of taskPaths) {
    for (const specifier of await modulesOf(path, baseDir)) {
      let module: Record<string, unknown>;
      try {
        module = await import(specifier);
      } catch (error) {
        const reason = error instanceof Error ? error.message : String(error);
        // With pq's hint, Deno's own ("deno add npm:...") would mislead.
        const hint = importMapHint(specifier, error);
        throw new Error(
          `Cannot load jobs from '${path}' (${specifier}): ${
            hint ? `${reason.split("\n")[0]}\n${hint}` : reason
          }`,
          { cause: error },
        );
      }
      for (const value of Object.values(module)) {
        if (!isRegistrableJob(value)) continue;
        registry.add(value, specifier);
        // Resolved here, where the import map that found it applies.
        JOB_MODULES.set(value, import.meta.resolve(specifier));
      }
    }
  }
  return registry;
}
