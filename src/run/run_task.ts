/**
 * Runs one task's job and turns what happened into the task's final record.
 * Each run is a `pq run <job>` span (see `tracing.ts`), in whose context the
 * job runs.
 *
 * Progress (`ctx.progress`) reaches `RunContext.progress` through one
 * {@linkcode ProgressThrottle} per run, wherever the job runs (a remote job
 * sends it here, throttled on its side too). When the run ends, a progress
 * still waiting for its interval is not written: the final record, written
 * next by the caller, carries the last progress said, and no `progress`
 * event comes after `done`.
 * @module
 */
import { untilAborted } from "../model/_abort.ts";
import { appFileUrl } from "../runtime/_paths.ts";
import { getLogger } from "@logtape/logtape";
import { TaskError, TaskRevoked, TaskTimeout } from "../model/errors.ts";
import type { JobBackend, JobClass, JobLogger } from "../runtime/job.ts";
import { checkKwargs } from "../runtime/kwargs_schema.ts";
import { Concurrency } from "../model/execution_mode.ts";
import { jobModule } from "../runtime/registry.ts";
import {
  type RetryDelay,
  retryDelayProblem,
  retryDelaySeconds,
} from "../model/retry_delay.ts";
import type { Settings } from "../model/settings_types.ts";
import { statusString, TaskStatus } from "../model/status.ts";
import {
  type Dict,
  newTaskId,
  Task,
  type TaskProgress,
  type TaskRecord,
} from "../model/task.ts";
import { activeTraceparent, startRunSpan } from "../runtime/tracing.ts";
import { StepNotStored, type TaskStep, withStep } from "../model/task_step.ts";
import { ProgressThrottle } from "./progress.ts";
import { RemoteHost } from "./remote_host.ts";
import type { RunRequest } from "./remote_protocol.ts";
import { runInSubprocess } from "./subprocess.ts";
import type { ThreadPool } from "./thread_pool.ts";

/** What a finished run produced. */
export interface RunOutcome {
  /** The final record (SUCCESS, FAILURE, REVOKED, or RETRY when retried). */
  task: TaskRecord;
  /** The next attempt to queue, when the job retries. */
  retry?: TaskRecord;
}

/** Where a task runs. */
export interface RunContext {
  /** The producer API the job sees as `backend`. */
  backend: JobBackend;
  /** Unix seconds now. */
  now: () => number;
  /** Aborts when the task must stop (revoke, lost lease, shutdown). */
  signal?: AbortSignal;
  /** The Web Workers of THREAD_IO jobs. */
  threads?: ThreadPool;
  /**
   * The settings of this process: a CPUBOUND subprocess makes the Manager
   * its config module exports, with them.
   */
  settings?: Settings;
  /**
   * Writes the progress of the running task (a consumer's: `setProgress`
   * under its lease). Called at most once per `PROGRESS_INTERVAL_MS`, one
   * call at a time; what it throws is logged. Absent: progress only ends
   * up in the final record.
   */
  progress?: (progress: TaskProgress) => Promise<unknown>;
  /**
   * Stores a finished durable step of the running task (a consumer's:
   * `saveStep` under its lease); resolves false when the lease was lost.
   * Never called while a progress write is in flight, nor the other way
   * round: both replace the task's stored record. Absent: steps only end
   * up in the final record.
   */
  saveStep?: (step: TaskStep) => Promise<boolean>;
}

const logger = getLogger(["pq", "run"]);

/** The logger of each job, by name: made once, not once a task. */
const jobLoggers = new Map<string, ReturnType<typeof getLogger>>();
function jobLogger(name: string): ReturnType<typeof getLogger> {
  let found = jobLoggers.get(name);
  if (!found) {
    found = getLogger(["pq", "job", name]);
    jobLoggers.set(name, found);
  }
  return found;
}

/** A failed record, for tasks that cannot even start. */
export function failedRecord(
  task: TaskRecord,
  reason: string,
  now: number,
): TaskRecord {
  return {
    ...task,
    status: TaskStatus.FAILURE,
    result: reason,
    timeEnded: now,
  };
}

/**
 * Runs `task` (already STARTED) with its job and returns the outcome: the
 * task is never thrown away, whatever the job does.
 */
export async function runTask(
  record: TaskRecord,
  job: JobClass | undefined,
  context: RunContext,
): Promise<RunOutcome> {
  const task = new Task(record);
  const span = startRunSpan(record);
  if (!job) {
    const failed = failedRecord(
      record,
      `${task.name} not in registry`,
      context.now(),
    );
    span.set({ "pq.task.status": "FAILURE" });
    span.end(failed.result);
    return { task: failed };
  }
  // Made at the first report (or step): most jobs never report, and a run
  // costs the throttle and one more await less then.
  let progress: ProgressThrottle | undefined;
  let writes: RecordWrites | undefined;
  // The steps of the record, with those this run stored.
  let steps = record.steps ?? null;
  const hooks: RunHooks = {
    progress: (p) =>
      (progress ??= progressThrottle(task, context, writes ??= recordWrites()))
        .push(p),
    step: async (step) => {
      const write = context.saveStep;
      if (write) await storeStep(task, step, write, writes ??= recordWrites());
      steps = withStep(steps, step);
    },
  };
  // The job runs in the span's context: its fetches are children.
  const settled = await span.run(() => settle(task, job, context, hooks));
  const last = progress && await progress.close({ flush: false });
  const ended: TaskRecord = {
    ...task.toJSON(),
    ...(last && { progress: last }),
    ...(steps !== (record.steps ?? null) && { steps }),
    ...settled,
    timeEnded: context.now(),
  };
  // A task revoked by id stays revoked; other failures may run again.
  const revokedById = context.signal?.reason instanceof TaskRevoked;
  const outcome = revokedById
    ? { task: ended }
    : withRetry(ended, job, context.now());
  span.set({ "pq.task.status": statusString(outcome.task.status) });
  span.end(settled.status === TaskStatus.FAILURE ? settled.result : undefined);
  return outcome;
}

/** What a job's context calls back: its progress and its finished steps. */
interface RunHooks {
  progress: (progress: TaskProgress) => void;
  step: (step: TaskStep) => Promise<void>;
}

/**
 * Runs the writes of a run's stored record one at a time, in order: a
 * progress write and a step write each read, change and replace the
 * record, so two at once could drop one's change.
 */
type RecordWrites = <T>(write: () => Promise<T>) => Promise<T>;

function recordWrites(): RecordWrites {
  let last: Promise<unknown> = Promise.resolve();
  return (write) => {
    const next = last.then(write);
    last = next.catch(() => undefined);
    return next;
  };
}

/** Stores a step under the run's lease; throws when it is not stored. */
async function storeStep(
  task: Task,
  step: TaskStep,
  write: (step: TaskStep) => Promise<boolean>,
  writes: RecordWrites,
): Promise<void> {
  const what = `Cannot store step '${step.name}' of ${task}`;
  let stored: boolean;
  try {
    stored = await writes(() => write(step));
  } catch (error) {
    throw new StepNotStored(
      `${what}: ${
        error instanceof Error ? error.message : String(error)
      }; the job stops here, and a retry goes on from its last stored step`,
      { cause: error },
    );
  }
  if (!stored) {
    throw new StepNotStored(
      `${what} as its lease was lost: the task runs again elsewhere, from its last stored step; this run stops here`,
    );
  }
}

/** The throttle of a run's progress writes; it logs their failures. */
function progressThrottle(
  task: Task,
  context: RunContext,
  writes: RecordWrites,
): ProgressThrottle {
  const write = context.progress;
  let failures = 0;
  return new ProgressThrottle(
    (progress) => writes(async () => await write?.(progress)),
    {
      onError: (error) => {
        // Once at warning level: a store that is away fails every write.
        const level = failures++ === 0 ? "warn" : "debug";
        logger[level]("Cannot write the progress of {task}: {error}", {
          task: String(task),
          error,
        });
      },
    },
  );
}

/** Runs the job and classifies its end: result, status and error fields. */
async function settle(
  task: Task,
  job: JobClass,
  context: RunContext,
  hooks: RunHooks,
): Promise<Partial<TaskRecord>> {
  const expiry = task.expiry;
  const remaining = expiry === null ? Infinity : expiry - context.now();
  if (remaining <= 0) return timedOut(task);
  // A signal of its own only for a timeout: a dependent signal
  // (`AbortSignal.any`) costs more than most jobs.
  const controller = new AbortController();
  const signals = !context.signal
    ? controller.signal
    : Number.isFinite(remaining)
    ? AbortSignal.any([controller.signal, context.signal])
    : context.signal;
  // A timer may fire a millisecond before the clock says the task expired:
  // then it waits for the rest, so no task times out early.
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeOutIn = (ms: number) =>
    timer = setTimeout(() => {
      const left = expiry! - context.now();
      if (left > 0) return timeOutIn(left * 1000 + 1);
      controller.abort(
        new TaskTimeout(`${task} timed out after ${task.timeout} s`),
      );
    }, ms);
  if (Number.isFinite(remaining)) timeOutIn(remaining * 1000);
  try {
    // A task stopped before it began (revoked on its way here) never runs.
    signals.throwIfAborted();
    const kwargs = await checkKwargs(job, task.name, task.kwargs);
    if ("invalid" in kwargs) {
      return { status: TaskStatus.FAILURE, result: kwargs.invalid };
    }
    const logger = jobLogger(task.name);
    const result = await untilAborted(
      (job.concurrency ?? Concurrency.ASYNC_IO) === Concurrency.ASYNC_IO
        ? Promise.resolve().then(() =>
          new job({
            backend: context.backend,
            task,
            signal: signals,
            logger,
            progress: hooks.progress,
            step: hooks.step,
          }).run(kwargs.value)
        )
        : runRemote(task, job, kwargs.value, {
          ...context,
          signal: signals,
          logger,
          hooks,
        }),
      signals,
    );
    return { status: TaskStatus.SUCCESS, result: result ?? null };
  } catch (error) {
    return classifyError(task, error);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Runs a THREAD_IO job in a Web Worker, a CPUBOUND one in a subprocess:
 * either imports the job's module and calls back for `ctx.queue`/`ctx.lock`.
 */
async function runRemote(
  task: Task,
  job: JobClass,
  kwargs: Dict,
  context: RunContext & {
    signal: AbortSignal;
    logger: JobLogger;
    hooks: RunHooks;
  },
): Promise<unknown> {
  const { backend, signal, logger, threads, hooks } = context;
  const mode = job.concurrency === Concurrency.THREAD_IO
    ? "a Web Worker"
    : "a subprocess";
  const module = jobModule(job);
  if (!module) {
    throw new TaskError(
      `Cannot run ${task} in ${mode}: its job was not loaded from a module of taskPaths`,
    );
  }
  const request: RunRequest = {
    type: "run",
    module,
    task: task.toJSON(),
    kwargs,
    nodeName: backend.nodeName,
    info: backend.info(),
  };
  // The run span's: the job's span over there is its child.
  const traceparent = activeTraceparent();
  if (traceparent) request.traceparent = traceparent;
  await using host = new RemoteHost(task, {
    backend,
    signal,
    logger,
    progress: hooks.progress,
    step: hooks.step,
  });
  if (job.concurrency !== Concurrency.THREAD_IO) {
    const { settings } = context;
    if (settings?.config) {
      request.manager = { module: appFileUrl(settings.config).href, settings };
    }
    return await runInSubprocess(request, task, host, {
      signal,
      logger,
      permissions: job.permissions,
    });
  }
  if (!threads) {
    throw new TaskError(
      `Cannot run ${task}: this process has no Web Workers for THREAD_IO jobs`,
    );
  }
  return await threads.run(request, task, host, signal);
}

function timedOut(task: Task): Partial<TaskRecord> {
  return {
    status: TaskStatus.REVOKED,
    result: `Timed out: the task expired ${task.timeout} s after it was due`,
  };
}

/** pulsar-queue's rules: TaskError is clean, anything else keeps its stack. */
function classifyError(task: Task, error: unknown): Partial<TaskRecord> {
  if (error instanceof TaskTimeout) return timedOut(task);
  if (error instanceof TaskRevoked) {
    return { status: TaskStatus.REVOKED, result: error.message };
  }
  if (error instanceof TaskError) {
    return { status: error.status, result: error.message };
  }
  const err = error instanceof Error ? error : new Error(String(error));
  return {
    status: TaskStatus.FAILURE,
    result: err.message,
    exception: `${err.name}: ${err.message}`,
    stacktrace: (err.stack ?? `${err.name}: ${err.message}`).split("\n"),
  };
}

/**
 * When a task did not succeed and its job allows more runs, the task ends as
 * RETRY pointing at its next attempt (`meta.nextTask`), which is returned to
 * be queued in the same store transition.
 */
function withRetry(
  ended: TaskRecord,
  job: JobClass,
  now: number,
): RunOutcome {
  const maxRetries = numberOr(ended.meta.maxRetries, job.maxRetries);
  // A task's own retryDelay (metaParams, checked when queued) over its job's.
  const retryDelay = retryDelaySeconds(
    ended.meta.retryDelay !== undefined &&
      retryDelayProblem(ended.meta.retryDelay) === undefined
      ? ended.meta.retryDelay as RetryDelay
      : job.retryDelay ?? 0,
    ended.retry,
  );
  const retriable = ended.status !== TaskStatus.SUCCESS &&
    ended.queue !== null && maxRetries !== undefined &&
    ended.retry < maxRetries;
  if (!retriable) return { task: ended };
  const nextId = newTaskId();
  const { nextTask: _previous, ...meta } = ended.meta;
  const retry: TaskRecord = {
    id: nextId,
    name: ended.name,
    queue: ended.queue,
    status: TaskStatus.QUEUED,
    timeQueued: now,
    delay: retryDelay,
    timeout: ended.timeout ?? null,
    retry: ended.retry + 1,
    kwargs: ended.kwargs,
    meta,
    fromTask: ended.id,
    runInfo: {},
  };
  // The next attempt goes on from the steps this one stored.
  if (ended.steps && ended.steps.length > 0) retry.steps = ended.steps;
  // Every attempt joins the trace of the span that queued the first.
  if (ended.traceparent) retry.traceparent = ended.traceparent;
  return {
    task: {
      ...ended,
      status: TaskStatus.RETRY,
      meta: { ...ended.meta, nextTask: nextId },
    },
    retry,
  };
}

function numberOr(value: unknown, fallback?: number): number | undefined {
  return typeof value === "number" && Number.isFinite(value) ? value : fallback;
}
