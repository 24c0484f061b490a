/**
 * The durable steps of one run of a task (`ctx.step`): a step the task's
 * record holds returns its stored result; any other runs, and its result
 * is stored (`save`) before it is returned.
 *
 * Invariants: a name is called at most once a run; nothing is stored for a
 * step whose function threw or whose result a codec would change; a step
 * returns only once `save` resolved (the lease held, the store reached).
 * @module
 */
import { describeValue } from "../model/errors.ts";
import {
  stepNameProblem,
  stepResultProblem,
  type TaskStep,
} from "../model/task_step.ts";
import type { Task } from "../model/task.ts";

/** The steps of one run of `task`, stored with `save` (absent: kept by nothing). */
export class StepRun {
  readonly #task: Task;
  readonly #save?: (step: TaskStep) => Promise<void>;
  /** The names of the steps called in this run: each once. */
  readonly #names = new Set<string>();

  constructor(task: Task, save?: (step: TaskStep) => Promise<void>) {
    this.#task = task;
    this.#save = save;
  }

  /** Runs or replays step `name` (see `Job.step`). */
  async run<T>(name: string, fn: () => T | Promise<T>): Promise<T> {
    const what = `Cannot run step '${String(name)}' of ${this.#task}`;
    const nameProblem = stepNameProblem(name);
    if (nameProblem) throw new TypeError(`${what} as ${nameProblem}`);
    if (typeof fn !== "function") {
      throw new TypeError(
        `${what} as its function must be a function: got ${describeValue(fn)}`,
      );
    }
    if (this.#names.has(name)) {
      throw new TypeError(
        `${what} as a step of that name already ran in this run: step names must be unique within a run (add what tells the calls apart, e.g. '${name}:2')`,
      );
    }
    this.#names.add(name);
    const done = this.#task.steps?.find((step) => step.name === name);
    if (done) return done.result as T;
    const timeStarted = Date.now() / 1000;
    const result = await fn();
    const problem = stepResultProblem(name, result);
    if (problem) throw new TypeError(`${what} as ${problem}`);
    const step: TaskStep = { name, timeStarted, timeEnded: Date.now() / 1000 };
    if (result !== undefined) step.result = result;
    await this.#save?.(step);
    return result;
  }
}
