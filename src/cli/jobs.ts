/**
 * `pq jobs [name ...]`: the registered jobs, with the schedule of the
 * periodic ones.
 * @module
 */
import { didYouMean } from "../model/_did_you_mean.ts";
import { NO_JOB_CODE_HINT, TaskNotAvailable } from "../model/errors.ts";
import type { PeriodicOptions } from "../model/periodic.ts";
import { loadRegistry } from "../runtime/registry.ts";
import { type Command, JSON_OPTION, printJson, table } from "./_command.ts";

/** A periodic job's schedule as `--json` prints it, or null. */
function scheduleOf(
  job: PeriodicOptions | undefined,
): { cron: string } | { runEvery: number; anchor: number } | null {
  if (job?.cron) return { cron: job.cron };
  if (job?.runEvery) return { runEvery: job.runEvery, anchor: job.anchor ?? 0 };
  return null;
}

/** A schedule as the table shows it: `every 60 s`, `cron 0 * * * *`, `-`. */
function scheduleText(schedule: ReturnType<typeof scheduleOf>): string {
  if (schedule === null) return "-";
  if ("cron" in schedule) return `cron ${schedule.cron} (UTC)`;
  return `every ${schedule.runEvery} s${
    schedule.anchor ? ` from ${schedule.anchor}` : ""
  }`;
}

/** `pq jobs [name ...]`. */
export const jobsCommand: Command = {
  name: "jobs",
  usage: "[name ...]",
  help: "List the jobs of --task-paths (all, or the named ones).",
  details:
    "It reads the job code only, not the store: the mode (ASYNC_IO...), priority, rate limit and schedule of each job, and the first line of its doc.",
  options: JSON_OPTION,
  examples: ["pq jobs", "pq jobs addition --json"],
  async run({ settings, args, values, io }) {
    // The job code only: no store is opened.
    const registry = await loadRegistry(settings.taskPaths);
    const unknown = args.find((name) => !registry.has(name));
    if (unknown !== undefined) {
      throw new TaskNotAvailable(unknown, {
        hint: didYouMean(unknown, registry.names()) ||
          (registry.names().length ? "" : NO_JOB_CODE_HINT),
      });
    }
    const jobs = registry.jobList(args.length ? args : undefined).map((
      [name, info],
    ) =>
      [name, { ...info, schedule: scheduleOf(registry.get(name)) }] as const
    );
    if (values.json) {
      printJson(io, Object.fromEntries(jobs));
      return 0;
    }
    if (jobs.length === 0) {
      io.out("No jobs: name the modules that define them with --task-paths");
      return 0;
    }
    io.out(table([
      ["JOB", "TYPE", "MODE", "PRIORITY", "RATE LIMIT", "SCHEDULE", "DOC"],
      ...jobs.map(([name, info]) => [
        name,
        info.type,
        info.mode,
        info.priority === null ? "-" : String(info.priority),
        info.rateLimit === null
          ? "-"
          : `${info.rateLimit.tasks}/${info.rateLimit.per}s${
            info.rateLimit.keyed ? " per key" : ""
          }`,
        scheduleText(info.schedule),
        (info.doc ?? "").split("\n")[0].trim(),
      ]),
    ]));
    return 0;
  },
};
