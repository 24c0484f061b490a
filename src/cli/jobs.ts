/**
 * `pq jobs [name ...]`: the registered jobs.
 * @module
 */
import { didYouMean } from "../model/_did_you_mean.ts";
import { NO_JOB_CODE_HINT, TaskNotAvailable } from "../model/errors.ts";
import { loadRegistry } from "../runtime/registry.ts";
import { type Command, JSON_OPTION, printJson, table } from "./_command.ts";

/** `pq jobs [name ...]`. */
export const jobsCommand: Command = {
  name: "jobs",
  usage: "[name ...]",
  help: "List the jobs of --task-paths (all, or the named ones).",
  options: JSON_OPTION,
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
    const jobs = registry.jobList(args.length ? args : undefined);
    if (values.json) {
      printJson(io, Object.fromEntries(jobs));
      return 0;
    }
    if (jobs.length === 0) {
      io.out("No jobs: name the modules that define them with --task-paths");
      return 0;
    }
    io.out(table([
      ["JOB", "TYPE", "MODE", "PRIORITY", "RATE LIMIT", "DOC"],
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
        (info.doc ?? "").split("\n")[0].trim(),
      ]),
    ]));
    return 0;
  },
};
