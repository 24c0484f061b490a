/**
 * The side of a remote run that runs the job: in a Web Worker (THREAD_IO)
 * or a subprocess (CPUBOUND). The job sees the usual context; its calls on
 * the backend (`ctx.queue`, `ctx.lock`) and its logs go to the worker. It
 * runs in a `pq job <job>` span, a child of the worker's run span.
 *
 * Its progress (`ctx.progress`) goes to the worker rate-limited here too
 * (one message per `PROGRESS_INTERVAL_MS`), so a job that reports in a
 * tight loop does not flood the channel; the last value is sent before the
 * run's end, so the worker knows it for the final record.
 * @module
 */
import { Concurrency, modeName } from "../model/execution_mode.ts";
import {
  isRegistrableJob,
  type JobBackend,
  type JobClass,
  type JobLock,
  type JobLogger,
  jobNameOf,
  type LockOptions,
} from "../runtime/job.ts";
import { Task } from "../model/task.ts";
import { startJobSpan } from "../runtime/tracing.ts";
import { ProgressThrottle } from "./progress.ts";
import {
  type FromRemote,
  fromRemoteError,
  type RemoteCall,
  type RemoteLog,
  type RunRequest,
  type ToRemote,
  toRemoteError,
} from "./remote_protocol.ts";

/** Distributive Omit: keeps the union of calls a union. */
type CallBody = RemoteCall extends infer C
  ? C extends RemoteCall ? Omit<C, "type" | "id"> : never
  : never;

/** Runs the tasks a worker sends, one at a time, and answers with messages. */
export class RemoteJobRunner {
  readonly #send: (message: FromRemote) => void;
  readonly #calls = new Map<
    number,
    { resolve: (value: unknown) => void; reject: (error: Error) => void }
  >();
  #nextCall = 1;
  /** Aborts when the worker asks the job to stop. */
  readonly controller = new AbortController();

  readonly #beforeRun: (request: RunRequest) => void | Promise<void>;

  /**
   * `send` delivers a message to the worker; it throws when it cannot.
   * `beforeRun` is awaited once the job's module is imported, before the
   * job runs; what it throws fails the task.
   */
  constructor(
    send: (message: FromRemote) => void,
    beforeRun: (request: RunRequest) => void | Promise<void> = () => {},
  ) {
    this.#send = send;
    this.#beforeRun = beforeRun;
  }

  /** Handles a message from the worker. Resolves when a run has ended. */
  async receive(message: ToRemote): Promise<void> {
    if (message.type === "run") return await this.#run(message);
    const call = this.#calls.get(message.id);
    this.#calls.delete(message.id);
    if (!call) return;
    if (message.ok) call.resolve(message.value);
    else call.reject(fromRemoteError(message.error));
  }

  async #run(request: RunRequest): Promise<void> {
    const task = new Task(request.task);
    // Ended before the answer: a subprocess exits once it is sent.
    const span = startJobSpan(request.task, request.traceparent);
    const progress = new ProgressThrottle(
      (value) => this.#send({ type: "progress", progress: value }),
    );
    try {
      const job = await findJob(request.module, task.name);
      span.set({
        "pq.mode": modeName(job.concurrency ?? Concurrency.ASYNC_IO),
      });
      await this.#beforeRun(request);
      const instance = new job({
        backend: this.#backend(request),
        task,
        signal: this.controller.signal,
        logger: this.#logger(),
        progress: (value) => progress.push(value),
        step: async (step) => {
          await this.#call({ method: "saveStep", args: [step] });
        },
      });
      const result = await span.run(() => instance.run(request.kwargs));
      span.end();
      await progress.close({ flush: true });
      this.#done({ ok: true, result: result ?? null }, task);
    } catch (error) {
      span.end(error);
      await progress.close({ flush: true });
      this.#done({ ok: false, error: toRemoteError(error) }, task);
    }
  }

  #done(
    outcome: { ok: true; result: unknown } | {
      ok: false;
      error: ReturnType<typeof toRemoteError>;
    },
    task: Task,
  ): void {
    try {
      this.#send({ type: "done", runInfo: task.runInfo, ...outcome });
    } catch (error) {
      // The result (or runInfo) cannot cross: that is the job's failure.
      const reason = new TypeError(
        `Cannot send the result of ${task}: ${
          error instanceof Error ? error.message : String(error)
        }`,
      );
      this.#send({
        type: "done",
        runInfo: {},
        ok: false,
        error: toRemoteError(reason),
      });
    }
  }

  #call(body: CallBody): Promise<unknown> {
    const id = this.#nextCall++;
    return new Promise((resolve, reject) => {
      this.#calls.set(id, { resolve, reject });
      try {
        this.#send({ type: "call", id, ...body } as RemoteCall);
      } catch (error) {
        this.#calls.delete(id);
        reject(error);
      }
    });
  }

  #backend(request: RunRequest): JobBackend {
    return {
      nodeName: request.nodeName,
      info: () => request.info,
      queueTask: async (jobName, kwargs, options) => {
        const record = await this.#call({
          method: "queueTask",
          args: [jobName, kwargs, withoutFunctions(options)],
        });
        return new Task(record as Task);
      },
      lock: async (name: string, options: LockOptions = {}) => {
        const id = await this.#call({
          method: "lock",
          args: [name, { timeout: options.timeout, wait: options.wait }],
        }) as number;
        let released: Promise<void> | undefined;
        const lock: JobLock = {
          name,
          release: () =>
            released ??= this.#call({ method: "unlock", args: [id] }).then(
              () => undefined,
            ),
          [Symbol.asyncDispose]: () => lock.release(),
        };
        return lock;
      },
    };
  }

  #logger(): JobLogger {
    const log =
      (level: RemoteLog["level"]) =>
      (message: string, properties?: Record<string, unknown>) => {
        try {
          this.#send({ type: "log", level, message, properties });
        } catch {
          this.#send({ type: "log", level, message });
        }
      };
    return {
      debug: log("debug"),
      info: log("info"),
      warn: log("warn"),
      error: log("error"),
    };
  }
}

/** Imports `module` and finds the job named `name` among its exports. */
async function findJob(module: string, name: string): Promise<JobClass> {
  const exports = await import(module) as Record<string, unknown>;
  for (const value of Object.values(exports)) {
    if (isRegistrableJob(value) && jobNameOf(value) === name) return value;
  }
  throw new Error(`${name} not in module ${module}`);
}

/** Options as data: a signal or callback cannot cross to the worker. */
function withoutFunctions<T extends object>(options: T): T {
  return Object.fromEntries(
    Object.entries(options).filter(([, value]) =>
      typeof value !== "function" && !(value instanceof AbortSignal)
    ),
  ) as T;
}
