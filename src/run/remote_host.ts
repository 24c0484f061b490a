/**
 * The worker's side of a remote run: answers the job's calls (`ctx.queue`,
 * `ctx.lock`) through the worker's backend and logs what the job logs.
 * @module
 */
import type { JobBackend, JobLock, JobLogger } from "../job.ts";
import type { Task } from "../task.ts";
import {
  type RemoteCall,
  type RemoteLog,
  type Reply,
  toRemoteError,
} from "./remote_protocol.ts";

/** Serves one remote run; `close()` frees the locks the job left. */
export class RemoteHost implements AsyncDisposable {
  readonly #task: Task;
  readonly #backend: JobBackend;
  readonly #signal: AbortSignal;
  readonly #logger: JobLogger;
  readonly #locks = new Map<number, JobLock>();
  #nextLock = 1;

  /** Serves the run of `task`; `signal` stops the job's waits for locks. */
  constructor(
    task: Task,
    services: { backend: JobBackend; signal: AbortSignal; logger: JobLogger },
  ) {
    this.#task = task;
    this.#backend = services.backend;
    this.#signal = services.signal;
    this.#logger = services.logger;
  }

  /** Logs a line, or answers a call through `reply` (which may throw). */
  handle(message: RemoteCall | RemoteLog, reply: (reply: Reply) => void): void {
    if (message.type === "log") {
      this.#logger[message.level](message.message, message.properties);
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
