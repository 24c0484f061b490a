/**
 * The helpers every test shares: sleeping (the project's `delay`), waiting
 * for a condition by polling, a queued task record, and waiting for what a
 * job or a process leaves behind (a file, a released lock, an exit).
 * @module
 */
import assert from "node:assert/strict";
import { TaskStatus } from "../src/model/status.ts";
import { newTaskId, type TaskRecord } from "../src/model/task.ts";
import { delay } from "../src/model/_abort.ts";
import type { Store } from "../src/store/store.ts";

export { delay };

/** Options of {@linkcode waitFor}. */
export interface WaitForOptions {
  /** Fails after this many milliseconds (default 10,000). */
  timeout?: number;
  /** Milliseconds between two checks (default 10). */
  interval?: number;
  /** What is waited for, in the failure's message. */
  what?: string;
}

/**
 * Resolves once `check` is true, checking every `interval` ms; fails after
 * `timeout` ms. For what has no event to wait on.
 */
export async function waitFor(
  check: () => boolean | Promise<boolean>,
  options: WaitForOptions = {},
): Promise<void> {
  const { timeout = 10_000, interval = 10, what = "condition" } = options;
  const deadline = Date.now() + timeout;
  while (!(await check())) {
    if (Date.now() > deadline) {
      assert.fail(`Timed out after ${timeout} ms waiting for ${what}`);
    }
    await delay(interval);
  }
}

/**
 * {@linkcode waitFor} with the timeout in seconds (the older form):
 * resolves once `check` is true; fails after `seconds`.
 */
export function eventually(
  check: () => boolean | Promise<boolean>,
  seconds = 10,
  what = "condition",
): Promise<void> {
  return waitFor(check, { timeout: seconds * 1000, interval: 20, what });
}

/**
 * A new QUEUED record of job `addition` with kwargs `{ a: 1 }` in queue
 * `default`, queued at `at` (Unix seconds, or a test clock's `t`), with
 * `overrides` on top.
 */
export function queuedRecord(
  at: number | { t: number },
  overrides: Partial<TaskRecord> = {},
): TaskRecord {
  return {
    id: newTaskId(),
    name: "addition",
    queue: "default",
    status: TaskStatus.QUEUED,
    timeQueued: typeof at === "number" ? at : at.t,
    delay: 0,
    retry: 1,
    kwargs: { a: 1 },
    meta: {},
    runInfo: {},
    ...overrides,
  };
}

/** True when the file `path` exists. */
export async function exists(path: string): Promise<boolean> {
  return await Deno.stat(path).then(() => true, () => false);
}

/** Resolves once the file `path` exists; fails after `timeout` ms. */
export function fileExists(path: string, timeout = 20_000): Promise<void> {
  return waitFor(() => exists(path), { timeout, what: `file ${path}` });
}

/** True while the process `pid` runs (an exited one not yet reaped does not). */
export function processRuns(pid: number): boolean {
  if (Deno.build.os === "linux") {
    try {
      // The state follows the name in parentheses: Z is exited, unreaped.
      const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
      return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
    } catch {
      return false;
    }
  }
  try {
    // Elsewhere a harmless signal, which fails once the process is gone.
    Deno.kill(pid, "SIGCONT");
    return true;
  } catch {
    return false;
  }
}

/** Resolves once the process `pid` has exited; fails after `timeout` ms. */
export function processExited(pid: number, timeout = 20_000): Promise<void> {
  return waitFor(() => !processRuns(pid), {
    timeout,
    what: `process ${pid} to exit`,
  });
}

/**
 * Resolves once whoever holds the lock (`flock`) of the file `path` lets
 * it go: a job holds it while it runs, so this is the end of its code (its
 * Web Worker terminated, its subprocess exited, its function returned).
 * Fails after `timeout` ms.
 */
export async function lockReleased(
  path: string,
  timeout = 20_000,
): Promise<void> {
  const file = await Deno.open(path, { read: true, write: true });
  try {
    await within(
      file.lock(true),
      timeout,
      `${path} is still locked: its holder still runs`,
    );
    await file.unlock();
  } finally {
    file.close();
  }
}

/**
 * Resolves once the code of a job that writes `path` (one of
 * tests/fixtures/mode_jobs.ts given `mark: true`, which hold `<path>.lock`
 * while they run and write `<path>.started` as they start) can no longer
 * write it: once its
 * lock is released, if it started. One that has not started is given
 * `lateStart` ms more to start (a stopped task's job must never start:
 * this is how long a late start is watched for, there being no event for
 * what does not happen).
 */
export async function jobGone(path: string, lateStart = 500): Promise<void> {
  if (!await exists(`${path}.started`)) await delay(lateStart);
  if (await exists(`${path}.started`)) await lockReleased(`${path}.lock`);
}

/** The event of the message {@linkcode delivered} publishes. */
export const MARKER_EVENT = "test-marker";

/**
 * Resolves once what was published on `channel` of `store` so far has been
 * delivered to its listeners: it publishes a marker message (event
 * {@linkcode MARKER_EVENT}) and waits for it, a channel keeping its order.
 * For a test that checks a message is not repeated, rather than sleeping.
 */
export async function delivered(store: Store, channel: string): Promise<void> {
  const heard = Promise.withResolvers<void>();
  const id = crypto.randomUUID();
  const unsubscribe = await store.subscribe(channel, (message) => {
    if (message.event === MARKER_EVENT && message.data === id) heard.resolve();
  });
  try {
    await store.publish({ channel, event: MARKER_EVENT, data: id });
    await within(heard.promise, 10_000, `the marker on ${channel}`);
  } finally {
    await unsubscribe();
  }
}

/** Settles as `promise` does; fails after `timeout` ms, naming `what`. */
export async function within<T>(
  promise: Promise<T>,
  timeout: number,
  what: string,
): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`Timed out after ${timeout} ms: ${what}`)),
          timeout,
        );
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
