/**
 * Durable steps: the finished `ctx.step(name, fn)` calls of a task, kept in
 * its record (`task.steps`) so that a run after a retry or a dead worker
 * returns their results without running them again.
 *
 * Invariants:
 * - a step is stored once its function returned, under the task's lease,
 *   with its result (absent when the function returned `undefined`): a step
 *   whose function threw is not stored;
 * - names are unique in a record: a step is looked up by name;
 * - a result is data both codecs carry unchanged (see `kwargs_check.ts`),
 *   so a replayed step returns what the first run returned.
 * @module
 */
import { describeValue } from "./errors.ts";
import { unsendableProblem } from "./kwargs_check.ts";

/**
 * A finished step of a task (`ctx.step`), as its record keeps it.
 *
 * @example
 * ```ts
 * import type { TaskStep } from "@pq/queue";
 * const charged: TaskStep = {
 *   name: "charge",
 *   result: { chargeId: "ch_1" },
 *   timeStarted: 1_700_000_000,
 *   timeEnded: 1_700_000_001.5,
 * };
 * ```
 */
export interface TaskStep {
  /** The step's name, unique within the task. */
  name: string;
  /** What the step's function returned (absent for `undefined`). */
  result?: unknown;
  /** When the step's function was called (Unix seconds). */
  timeStarted: number;
  /** When it returned (Unix seconds). */
  timeEnded: number;
}

/** The most characters of a step name. */
export const STEP_NAME_MAX = 200;

/** Why `name` is not a step name, or undefined when it is one. */
export function stepNameProblem(name: unknown): string | undefined {
  if (typeof name !== "string" || name.length === 0) {
    return `its name must be a non-empty string: got ${describeValue(name)}`;
  }
  if (name.length > STEP_NAME_MAX) {
    return `its name must be at most ${STEP_NAME_MAX} characters: got ${name.length}`;
  }
  return undefined;
}

/**
 * Why the result of step `name` cannot be stored, or undefined when it can
 * (`undefined` can: it is stored as no result).
 */
export function stepResultProblem(
  name: string,
  result: unknown,
): string | undefined {
  if (result === undefined) return undefined;
  return unsendableProblem(result, `the result of step '${name}'`);
}

const isTime = (value: unknown) =>
  typeof value === "number" && Number.isFinite(value);

/** Why `value` is not a {@linkcode TaskStep}, or undefined when it is. */
export function stepProblem(value: unknown): string | undefined {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return "a step must be an object";
  }
  const step = value as Record<string, unknown>;
  const name = stepNameProblem(step.name);
  if (name) return `a step's ${name.replace(/^its /, "")}`;
  if (!isTime(step.timeStarted) || !isTime(step.timeEnded)) {
    return `step '${step.name}' must have numbers 'timeStarted' and 'timeEnded'`;
  }
  return undefined;
}

/**
 * Why `value` is not the steps of a record (a list of steps with unique
 * names), or undefined when it is.
 */
export function stepsProblem(value: unknown): string | undefined {
  if (!Array.isArray(value)) return "must be a list of steps";
  const names = new Set<string>();
  for (const step of value) {
    const problem = stepProblem(step);
    if (problem) return problem;
    const name = (step as TaskStep).name;
    if (names.has(name)) return `step '${name}' is there twice`;
    names.add(name);
  }
  return undefined;
}

/**
 * The steps of a record with `step` added: a step of the same name is
 * replaced (a step stored again by a run that did not know of it).
 */
export function withStep(
  steps: readonly TaskStep[] | null | undefined,
  step: TaskStep,
): TaskStep[] {
  return [...(steps ?? []).filter((s) => s.name !== step.name), step];
}

/**
 * Thrown by `ctx.step` when its step could not be stored: the task's lease
 * was lost (it runs elsewhere now) or the store is away. The job must not
 * go on; the next run goes on from the last stored step.
 *
 * @example
 * ```ts
 * import { job, StepNotStored } from "@pq/queue";
 * export const sync = job(async function sync(ctx) {
 *   try {
 *     await ctx.step("pull", () => "pulled");
 *   } catch (error) {
 *     if (error instanceof StepNotStored) ctx.logger.warn("{error}", { error });
 *     throw error; // never go on without the step stored
 *   }
 * });
 * ```
 */
export class StepNotStored extends Error {
  /** Makes the error; `cause` is why, when there is one. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "StepNotStored";
  }
}
