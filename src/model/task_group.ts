/**
 * A task's group (fair queues, docs/fair_queues.md): `meta.group`, a name
 * of 1 to {@linkcode GROUP_MAX} characters without a tab, newline or other
 * control character, and `meta.groupConcurrency`, the most tasks of its
 * queue and group running at once in the whole cluster. Set at queue time
 * from the `group` queue option, else from the job's `group` function of
 * the kwargs; kept in `meta`, so a retry, a redelivery or a released task
 * stays in its group.
 * @module
 */
import { describeValue } from "./errors.ts";
import type { Dict, TaskRecord } from "./task.ts";

/** The most characters of a group name. */
export const GROUP_MAX = 200;

/**
 * What is wrong with a group name, as the end of "must be ...", or
 * undefined when it is one.
 */
export function groupProblem(value: unknown): string | undefined {
  return typeof value === "string" && value.length > 0 &&
      value.length <= GROUP_MAX &&
      // deno-lint-ignore no-control-regex
      !/[\u0000-\u001f\u007f]/.test(value)
    ? undefined
    : `a string of 1 to ${GROUP_MAX} characters, no control character`;
}

/** What is wrong with a group concurrency, or undefined. */
export function groupConcurrencyProblem(value: unknown): string | undefined {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 1
    ? undefined
    : "a whole number >= 1 (tasks of the group running at once)";
}

/** A task's group and its concurrency limit (null: none). */
export interface TaskGroup {
  group: string;
  concurrency: number | null;
}

/**
 * The group of a task, or undefined when it has none (or a record written
 * by hand has a bad one: it runs as a task without a group).
 */
export function taskGroup(task: TaskRecord): TaskGroup | undefined {
  const { group, groupConcurrency } = task.meta;
  if (groupProblem(group)) return undefined;
  return {
    group: group as string,
    concurrency: groupConcurrencyProblem(groupConcurrency)
      ? null
      : groupConcurrency as number,
  };
}

/** What a job gives its tasks' groups. */
export interface GroupDefaults {
  /** The group of a task, from its kwargs. */
  group?: ((kwargs: Dict) => string) | null;
  /** The most tasks of one group running at once. */
  groupConcurrency?: number | null;
  /** True when it groups by a function this process does not have. */
  grouped?: boolean;
}

/**
 * Writes the task's group into `meta`: the `group` option, else what the
 * job's `group` function gives, with the option's, then meta's, then the
 * job's `groupConcurrency`. Throws a TypeError naming what was wrong.
 */
export function setGroup(
  jobName: string,
  kwargs: Dict,
  options: { group?: string; groupConcurrency?: number },
  job: GroupDefaults,
  meta: Dict,
): void {
  let group: unknown = options.group ?? meta.group;
  if (group === undefined && job.group) {
    try {
      group = job.group(kwargs);
    } catch (error) {
      throw new TypeError(
        `Cannot queue task as the 'group' function of job '${jobName}' failed: ${
          error instanceof Error ? error.message : String(error)
        }`,
      );
    }
    const problem = groupProblem(group);
    if (problem) {
      throw new TypeError(
        `Cannot queue task as the 'group' function of job '${jobName}' must return ${problem}: got ${
          describeValue(group)
        }`,
      );
    }
  }
  if (group === undefined && !job.group && job.grouped) {
    throw new TypeError(
      `Cannot queue task as job '${jobName}' gives its tasks a group by a function this process does not have: pass the 'group' option`,
    );
  }
  const limit = options.groupConcurrency ?? meta.groupConcurrency ??
    job.groupConcurrency ?? undefined;
  if (group === undefined) {
    if (options.groupConcurrency !== undefined) {
      throw new TypeError(
        `Cannot queue task as 'groupConcurrency' needs a group: pass 'group' too, or give job '${jobName}' a 'group' function`,
      );
    }
    delete meta.groupConcurrency;
    return;
  }
  meta.group = group;
  if (limit !== undefined) meta.groupConcurrency = limit;
}

/**
 * `group` when it is a group name; else throws a TypeError, as "Cannot
 * pause group as 'group' must be a string of 1 to 200 characters, no
 * control character: got """.
 */
export function checkGroupName(group: unknown, action: string): string {
  const problem = groupProblem(group);
  if (problem === undefined) return group as string;
  throw new TypeError(
    `Cannot ${action} as 'group' must be ${problem}: got ${
      describeValue(group)
    }`,
  );
}
