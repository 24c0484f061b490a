/**
 * THREAD_IO: a pool of Web Workers in a worker process. A task runs in an
 * idle Web Worker (at most `size` live at once); one that times out, is
 * revoked or crashes is terminated and a new one takes its place.
 *
 * A stopped job is first told to abort; its Web Worker answers from its
 * event loop. One that does not answer within {@linkcode STUCK_GRACE_MS} is
 * in synchronous code (a loop, or a native call such as
 * `Deno.readTextFileSync("/dev/zero")`) that `terminate()` cannot interrupt
 * in Deno: it is terminated anyway and reported to `onStuck`, since only the
 * end of the process stops it.
 * @module
 */
import { getLogger } from "@logtape/logtape";
import type { Task } from "../model/task.ts";
import type { RemoteHost } from "./remote_host.ts";
import {
  fromRemoteError,
  parseFromRemote,
  type RunRequest,
} from "./remote_protocol.ts";

const logger = getLogger(["pq", "threads"]);

/** Milliseconds a stopped job gets to abort its I/O before termination. */
const ABORT_GRACE_MS = 100;

/** Milliseconds a stopped job's Web Worker has to answer before it is stuck. */
const STUCK_GRACE_MS = 1000;

/** Options of a {@linkcode ThreadPool}. */
export interface ThreadPoolOptions {
  /**
   * Called when a stopped job's Web Worker did not answer: it runs
   * synchronous code that only the end of the process can stop.
   */
  onStuck?: () => void;
}

const WORKER_URL = new URL("./thread_worker.ts", import.meta.url);

/** Runs THREAD_IO tasks in Web Workers. */
export class ThreadPool implements AsyncDisposable {
  readonly #size: number;
  readonly #idle: Worker[] = [];
  readonly #live = new Set<Worker>();
  readonly #waiting: Array<() => void> = [];
  /** How to stop the run in each busy Web Worker (used by `close()`). */
  readonly #busy = new Map<Worker, (reason: Error) => void>();
  /** Web Workers asked to abort, and the timer that terminates them. */
  readonly #ending = new Map<Worker, ReturnType<typeof setTimeout>>();
  #closed = false;
  #spawned = 0;
  readonly #onStuck?: () => void;

  /** A pool of at most `size` Web Workers, started when needed. */
  constructor(size: number, options: ThreadPoolOptions = {}) {
    if (!(Number.isInteger(size) && size > 0)) {
      throw new RangeError(
        `Cannot make a thread pool of ${size} Web Workers: expected a whole number > 0`,
      );
    }
    this.#size = size;
    this.#onStuck = options.onStuck;
  }

  /**
   * Runs `request` in a Web Worker and resolves with the job's result, or
   * rejects with its error. When `signal` aborts, the Web Worker is
   * terminated and the run rejects with the signal's reason at once.
   */
  async run(
    request: RunRequest,
    task: Task,
    host: RemoteHost,
    signal: AbortSignal,
  ): Promise<unknown> {
    const worker = await this.#take(signal);
    return await new Promise((resolve, reject) => {
      const end = (keep: boolean, running = false) => {
        this.#busy.delete(worker);
        signal.removeEventListener("abort", onAbort);
        worker.onmessage = null;
        worker.onmessageerror = null;
        worker.onerror = (event) => this.#idleCrash(worker, event);
        if (keep) this.#giveBack(worker);
        else this.#discard(worker, running);
      };
      const onAbort = () => {
        end(false, true);
        reject(signal.reason);
      };
      worker.onmessage = (event) => {
        const message = parseFromRemote(event.data);
        if (!message) {
          logger.warn("Ignored a malformed message from the job of {task}", {
            task: String(task),
          });
        } else if (message.type !== "done") {
          host.handle(message, (reply) => worker.postMessage(reply));
        } else {
          end(true);
          Object.assign(task.runInfo, message.runInfo);
          if (message.ok) resolve(message.result);
          else reject(fromRemoteError(message.error));
        }
      };
      worker.onmessageerror = () => {
        end(false);
        reject(new Error(`A message from the Web Worker of ${task} was lost`));
      };
      worker.onerror = (event) => {
        // Handled here: an uncaught error in a job must not end the process.
        event.preventDefault();
        end(false);
        reject(crashError(event));
      };
      signal.addEventListener("abort", onAbort, { once: true });
      this.#busy.set(worker, (reason) => {
        end(false);
        reject(reason);
      });
      try {
        worker.postMessage(request);
      } catch (error) {
        end(true);
        reject(error);
      }
    });
  }

  async #take(signal: AbortSignal): Promise<Worker> {
    while (true) {
      signal.throwIfAborted();
      if (this.#closed) throw new Error("The thread pool is closed");
      const idle = this.#idle.pop();
      if (idle) return idle;
      if (this.#live.size < this.#size) return this.#spawn();
      await new Promise<void>((wake) => {
        const onAbort = () => wake();
        signal.addEventListener("abort", onAbort, { once: true });
        this.#waiting.push(() => {
          signal.removeEventListener("abort", onAbort);
          wake();
        });
      });
    }
  }

  #spawn(): Worker {
    const worker = new Worker(WORKER_URL, {
      type: "module",
      name: `pq-thread-${++this.#spawned}`,
    });
    this.#live.add(worker);
    return worker;
  }

  #giveBack(worker: Worker): void {
    if (this.#closed) return this.#discard(worker);
    this.#idle.push(worker);
    this.#waiting.shift()?.();
  }

  /**
   * Terminates a Web Worker, after asking its job to abort so that its
   * fetches and shell commands stop too. A `running` job must answer the
   * abort within the stuck grace, else its Web Worker is stuck.
   */
  #discard(worker: Worker, running = false): void {
    this.#live.delete(worker);
    const index = this.#idle.indexOf(worker);
    if (index >= 0) this.#idle.splice(index, 1);
    const terminate = () => {
      clearTimeout(this.#ending.get(worker));
      this.#ending.delete(worker);
      worker.terminate();
    };
    try {
      worker.postMessage({ type: "abort" });
    } catch {
      // Already gone.
    }
    if (running) {
      worker.onmessage = (event) => {
        if (event.data?.type !== "aborted") return;
        worker.onmessage = null;
        clearTimeout(this.#ending.get(worker));
        this.#ending.set(worker, setTimeout(terminate, ABORT_GRACE_MS));
      };
      this.#ending.set(
        worker,
        setTimeout(() => {
          worker.onmessage = null;
          terminate();
          if (this.#closed) return;
          logger.error(
            "A stopped job's Web Worker did not answer within {ms} ms: it runs synchronous code that only the end of its process stops",
            { ms: STUCK_GRACE_MS },
          );
          this.#onStuck?.();
        }, STUCK_GRACE_MS),
      );
    } else {
      this.#ending.set(worker, setTimeout(terminate, ABORT_GRACE_MS));
    }
    this.#waiting.shift()?.();
  }

  #idleCrash(worker: Worker, event: ErrorEvent): void {
    event.preventDefault();
    logger.warn("An idle Web Worker crashed and is replaced: {error}", {
      error: crashError(event).message,
    });
    this.#discard(worker);
  }

  /** Terminates every Web Worker; runs still going reject. */
  close(): Promise<void> {
    this.#closed = true;
    for (const stop of [...this.#busy.values()]) {
      stop(new Error("The thread pool was closed while the task ran"));
    }
    for (const [worker, timer] of this.#ending) {
      clearTimeout(timer);
      worker.terminate();
    }
    this.#ending.clear();
    for (const worker of [...this.#live]) {
      this.#live.delete(worker);
      worker.terminate();
    }
    this.#idle.length = 0;
    for (const wake of this.#waiting.splice(0)) wake();
    return Promise.resolve();
  }

  /** Same as `close()`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

function crashError(event: ErrorEvent): Error {
  const where = event.filename
    ? ` (${event.filename}:${event.lineno}:${event.colno})`
    : "";
  const error = new Error(`The Web Worker crashed: ${event.message}${where}`);
  error.name = "WorkerCrash";
  // Where it crashed is in the message; this process's frames say nothing.
  error.stack = `${error.name}: ${error.message}`;
  return error;
}
