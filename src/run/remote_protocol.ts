/**
 * The messages between a worker and a job it runs elsewhere: in a Web
 * Worker (THREAD_IO) or a subprocess (CPUBOUND). The same messages cross
 * both: by structured clone to a Web Worker, as JSON lines to a subprocess.
 * @module
 */
import type { QueueOptions } from "../model/queue_options.ts";
import { TaskError } from "../model/errors.ts";
import type { Settings } from "../model/settings_types.ts";
import { statusString, type TaskStatusCode } from "../model/status.ts";
import {
  type Dict,
  progressProblem,
  type TaskProgress,
  type TaskRecord,
} from "../model/task.ts";
import type { TaskStep } from "../model/task_step.ts";

/** Runs one task: the first message a remote runner gets. */
export interface RunRequest {
  type: "run";
  /** The module that exports the job (a resolved specifier). */
  module: string;
  /** The task, as started. */
  task: TaskRecord;
  /** The kwargs, already checked by the job's schema. */
  kwargs: Dict;
  /** The worker's host name (`backend.nodeName`). */
  nodeName: string;
  /** The worker's `backend.info()` when the task started. */
  info: Dict;
  /** For a subprocess: the mark that starts each of its message lines. */
  nonce?: string;
  /**
   * For a subprocess: the config module that may export the application's
   * Manager (a resolved specifier), and the settings to make it with.
   */
  manager?: { module: string; settings: Settings };
  /**
   * The W3C `traceparent` of the worker's run span, when traced: the job's
   * span over there is its child.
   */
  traceparent?: string;
}

/** An error as it crosses: enough to rebuild it on the other side. */
export interface RemoteError {
  name: string;
  message: string;
  stack?: string;
  /** Set for a TaskError: the status the task ends with. */
  status?: TaskStatusCode;
}

/**
 * A call the job makes on its worker (`ctx.queue`, `ctx.lock`, `ctx.step`
 * storing a finished step: answered once it is stored).
 */
export type RemoteCall =
  & { type: "call"; id: number }
  & (
    | {
      method: "queueTask";
      // Checked by `queueTask` on the worker side, as a local job's.
      args: [string, Dict | undefined, QueueOptions];
    }
    | { method: "lock"; args: [string, { timeout?: number; wait?: number }] }
    | { method: "unlock"; args: [number] }
    | { method: "saveStep"; args: [TaskStep] }
  );

/** A line the job logged. */
export interface RemoteLog {
  type: "log";
  level: "debug" | "info" | "warn" | "error";
  message: string;
  properties?: Record<string, unknown>;
}

/**
 * A progress the job reported (`ctx.progress`), already rate-limited on the
 * job's side: the worker writes it under its lease.
 */
export interface RemoteProgress {
  type: "progress";
  progress: TaskProgress;
}

/** The end of the run: the result, or the error, and the task's runInfo. */
export type RemoteDone =
  & { type: "done"; runInfo: Dict }
  & ({ ok: true; result: unknown } | { ok: false; error: RemoteError });

/** What a remote runner sends to its worker. */
export type FromRemote = RemoteCall | RemoteLog | RemoteProgress | RemoteDone;

/** The answer to a {@linkcode RemoteCall}. */
export type Reply =
  & { type: "reply"; id: number }
  & ({ ok: true; value: unknown } | { ok: false; error: RemoteError });

/** What a subprocess writes before each message line, with its nonce. */
export function frameMark(nonce: string): string {
  return `\x1epq:${nonce} `;
}

/** What a worker sends to a remote runner. */
export type ToRemote = RunRequest | Reply;

/** An error thrown anywhere, as it crosses. */
export function toRemoteError(error: unknown): RemoteError {
  if (!(error instanceof Error)) {
    return { name: "Error", message: String(error) };
  }
  const remote: RemoteError = {
    name: error.name,
    message: error.message,
    stack: error.stack,
  };
  // Duck-typed: the job module may hold its own copy of TaskError.
  const status = (error as { status?: unknown }).status;
  if (error.name === "TaskError" && typeof status === "number") {
    remote.status = status as TaskStatusCode;
  }
  return remote;
}

/** The error a {@linkcode RemoteError} stands for, stack included. */
export function fromRemoteError(remote: RemoteError): Error {
  if (remote.status !== undefined) {
    return new TaskError(remote.message, { status: remote.status });
  }
  const error = new Error(remote.message);
  error.name = remote.name;
  error.stack = remote.stack ?? `${remote.name}: ${remote.message}`;
  return error;
}

const LEVELS = new Set(["debug", "info", "warn", "error"]);
const METHODS = new Set(["queueTask", "lock", "unlock", "saveStep"]);

/**
 * Checks a message from a remote runner; undefined when it is not one. A
 * job's code runs over there, so what comes back is checked like input.
 */
export function parseFromRemote(value: unknown): FromRemote | undefined {
  if (typeof value !== "object" || value === null) return undefined;
  const message = value as Record<string, unknown>;
  switch (message.type) {
    case "log":
      return LEVELS.has(message.level as string) &&
          typeof message.message === "string"
        ? message as unknown as RemoteLog
        : undefined;
    case "progress":
      return progressProblem(message.progress) === undefined
        ? message as unknown as RemoteProgress
        : undefined;
    case "call":
      return Number.isInteger(message.id) &&
          METHODS.has(message.method as string) && Array.isArray(message.args)
        ? message as unknown as RemoteCall
        : undefined;
    case "done": {
      const runInfo = message.runInfo;
      if (typeof runInfo !== "object" || runInfo === null) return undefined;
      if (message.ok === true) return message as unknown as RemoteDone;
      const error = message.error as Record<string, unknown> | undefined;
      return message.ok === false && typeof error?.message === "string" &&
          typeof error.name === "string" &&
          (error.status === undefined || isStatus(error.status))
        ? message as unknown as RemoteDone
        : undefined;
    }
    default:
      return undefined;
  }
}

function isStatus(value: unknown): boolean {
  return statusString(value) !== "UNKNOWN";
}
