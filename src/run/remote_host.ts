/**
 * The worker's side of a remote run: answers the job's calls (`ctx.queue`,
 * `ctx.lock`) through the worker's backend, logs what the job logs and
 * passes on the progress it reports (to the run's throttle) and the steps
 * it finished (`ctx.step`: stored before the job is answered).
 * @module
 */
import type { JobBackend, JobLock, JobLogger } from "../runtime/job.ts";
import type { Task, TaskProgress } from "../model/task.ts";
import {
  stepProblem,
  stepResultProblem,
  type TaskStep,
} from "../model/task_step.ts";
import {
  type RemoteCall,
  type RemoteLog,
  type RemoteProgress,
  type Reply,
  toRemoteError,
} from "./remote_protocol.ts";

/** Serves one remote run; `close()` frees the locks the job left. */
export class RemoteHost implements AsyncDisposable {
  readonly #task: Task;
  readonly #backend: JobBackend;
  readonly #signal: AbortSignal;
  readonly #logger: JobLogger;
  readonly #progress?: (progress: TaskProgress) => void;
  readonly #step?: (step: TaskStep) => Promise<void>;
  readonly #locks = new Map<number, JobLock>();
  #nextLock = 1;

  /**
   * Serves the run of `task`; `signal` stops the job's waits for locks;
   * `progress` takes the progress the job reports (checked already).
   */
  constructor(
    task: Task,
    services: {
      backend: JobBackend;
      signal: AbortSignal;
      logger: JobLogger;
      progress?: (progress: TaskProgress) => void;
      step?: (step: TaskStep) => Promise<void>;
    },
  ) {
    this.#task = task;
    this.#backend = services.backend;
    this.#signal = services.signal;
    this.#logger = services.logger;
    this.#progress = services.progress;
    this.#step = services.step;
  }

  /**
   * Logs a line, passes on a progress, or answers a call through `reply`
   * (which may throw).
   */
  handle(
    message: RemoteCall | RemoteLog | RemoteProgress,
    reply: (reply: Reply) => void,
  ): void {
    if (message.type === "log") {
      this.#logger[message.level](message.message, message.properties);
      return;
    }
    if (message.type === "progress") {
      this.#progress?.(message.progress);
      return;
    }
    const send = (answer: Reply) => {
      try {
        reply(answer);
      } catch {
        // The job is gone (terminated or exited): nobody waits any more.
      }
    };
    this.#call(message).then(
      (value) => send({ type: "reply", id: message.id, ok: true, value }),
      (error) =>
        send({
          type: "reply",
          id: message.id,
          ok: false,
          error: toRemoteError(error),
        }),
    );
  }

  async #call(message: RemoteCall): Promise<unknown> {
    switch (message.method) {
      case "queueTask": {
        const [jobName, kwargs, options] = message.args;
        const task = await this.#backend.queueTask(jobName, kwargs, {
          ...options,
          fromTask: this.#task.id,
        });
        return task.toJSON();
      }
      case "lock": {
        const [name, options] = message.args;
        const lock = await this.#backend.lock(name, {
          timeout: options?.timeout,
          wait: options?.wait,
          signal: this.#signal,
        });
        const id = this.#nextLock++;
        this.#locks.set(id, lock);
        return id;
      }
      case "saveStep": {
        const [step] = message.args;
        // The job's code sent it: checked as input.
        const problem = stepProblem(step) ??
          stepResultProblem(step.name, step.result);
        if (problem) {
          throw new TypeError(
            `Cannot store a step of ${this.#task}: ${problem}`,
          );
        }
        await this.#step?.(step);
        return null;
      }
      case "unlock": {
        const [id] = message.args;
        const lock = this.#locks.get(id);
        this.#locks.delete(id);
        await lock?.release();
        return null;
      }
    }
  }

  /** Frees every lock the job did not release itself. */
  async close(): Promise<void> {
    const locks = [...this.#locks.values()];
    this.#locks.clear();
    await Promise.allSettled(locks.map((lock) => lock.release()));
  }

  /** Same as `close()`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
