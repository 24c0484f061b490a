/**
 * A job's kwargs checked by its schema (any Standard Schema: zod,
 * valibot...), before a task is queued and before it runs.
 * @module
 */
import type { Dict } from "../model/task.ts";
import type { JobClass } from "./job.ts";

/**
 * Checks kwargs with the job's schema, when it has one: the checked value
 * (a schema may fill defaults), or why the kwargs are invalid, naming each
 * field: `Invalid arguments for job 'addition': aa: Unrecognized key`.
 */
export async function checkKwargs(
  job: JobClass,
  jobName: string,
  kwargs: Dict,
): Promise<{ value: Dict } | { invalid: string }> {
  if (!job.schema) return { value: kwargs };
  const checked = await job.schema["~standard"].validate(kwargs);
  if (!checked.issues) return { value: checked.value as Dict };
  const problems = checked.issues.map((issue) => {
    const path = (issue.path ?? []).map((part) =>
      typeof part === "object" ? String(part.key) : String(part)
    ).join(".");
    return path ? `${path}: ${issue.message}` : issue.message;
  });
  return {
    invalid: `Invalid arguments for job '${jobName}': ${problems.join("; ")}`,
  };
}
