/**
 * The arbiter: spawns worker processes, replaces those that exit, and stops
 * them gracefully.
 * @module
 */
import { getLogger } from "@logtape/logtape";
import type { Settings } from "../model/settings_types.ts";
import { selfCommand } from "./self_command.ts";

const logger = getLogger(["pq", "arbiter"]);

/** The environment variable that makes a process a worker (its index). */
export const WORKER_ENV = "PQ_WORKER_INDEX";

/** Seconds a worker must live for its exit not to count as a crash. */
const HEALTHY_SECONDS = 10;
/** Longest wait before replacing a crashing worker. */
const MAX_BACKOFF_SECONDS = 30;

interface Slot {
  index: number;
  child?: Deno.ChildProcess;
  crashes: number;
  timer?: ReturnType<typeof setTimeout>;
}

/**
 * Supervises `settings.workers` worker processes until `signal` aborts, then
 * asks them to stop (SIGTERM), waits for them for `gracePeriod` plus a few
 * seconds and kills what is left. `onExit(pid)` is called when a worker
 * process exits on its own (it gives the process's tasks back at once).
 * `env` is added to the environment of each worker process.
 */
export async function runArbiter(
  settings: Settings,
  signal: AbortSignal,
  onExit: (pid: number) => Promise<void> = () => Promise.resolve(),
  env: Record<string, string> = {},
): Promise<void> {
  const slots: Slot[] = Array.from(
    { length: settings.workers },
    (_, index) => ({ index, crashes: 0 }),
  );
  const exits = new Set<Promise<unknown>>();
  const spawn = (slot: Slot) => {
    slot.timer = undefined;
    if (signal.aborted) return;
    const { command, args } = selfCommand();
    const child = new Deno.Command(command, {
      args,
      env: { ...env, [WORKER_ENV]: String(slot.index) },
      // Never written: it ends when this process does, however it ends,
      // and the worker process then stops (see `stopWhenArbiterGone`).
      stdin: "piped",
      stdout: "inherit",
      stderr: "inherit",
    }).spawn();
    slot.child = child;
    const started = Date.now();
    logger.info("Started worker process {pid}", { pid: child.pid });
    const exit = child.status.then(async (status) => {
      exits.delete(exit);
      slot.child = undefined;
      if (signal.aborted) return;
      await onExit(child.pid).catch((error) =>
        logger.error(
          "Cannot give back the tasks of worker process {pid}: {error}",
          { pid: child.pid, error },
        )
      );
      const lived = (Date.now() - started) / 1000;
      const clean = status.success;
      slot.crashes = clean || lived > HEALTHY_SECONDS ? 0 : slot.crashes + 1;
      const wait = slot.crashes === 0
        ? 0
        : Math.min(MAX_BACKOFF_SECONDS, 0.5 * 2 ** (slot.crashes - 1));
      logger[clean ? "info" : "warn"](
        "Worker process {pid} exited ({code}); replacing it in {wait} s",
        { pid: child.pid, code: status.signal ?? status.code, wait },
      );
      slot.timer = setTimeout(() => spawn(slot), wait * 1000);
    });
    exits.add(exit);
  };
  slots.forEach(spawn);
  await new Promise<void>((resolve) => {
    if (signal.aborted) resolve();
    signal.addEventListener("abort", () => resolve(), { once: true });
  });
  logger.info(
    `Stopping {n} worker ${slots.length === 1 ? "process" : "processes"}`,
    { n: slots.length },
  );
  for (const slot of slots) {
    clearTimeout(slot.timer);
    try {
      slot.child?.kill("SIGTERM");
    } catch {
      // Already gone.
    }
  }
  const killTimer = setTimeout(() => {
    for (const slot of slots) {
      try {
        slot.child?.kill("SIGKILL");
      } catch {
        // Already gone.
      }
    }
  }, (settings.gracePeriod + 5) * 1000);
  await Promise.all(exits);
  clearTimeout(killTimer);
}

/**
 * In a worker process: aborts `stop` when its arbiter is gone (its stdin,
 * a pipe the arbiter never writes, ends: the arbiter exited, even by
 * SIGKILL), so no worker process outlives its server unsupervised; and
 * exits the process if stopping takes longer than `gracePeriod` plus a few
 * seconds (a store that cannot be reached may hold it). Returns how to stop
 * watching (a worker that stops on its own).
 */
export function stopWhenArbiterGone(
  stop: AbortController,
  gracePeriod: number,
): () => void {
  const reader = Deno.stdin.readable.getReader();
  let watching = true;
  (async () => {
    try {
      while (!(await reader.read()).done);
    } catch {
      // Closed: the same.
    }
    if (!watching) return;
    logger.warn("The arbiter is gone: this worker process stops");
    stop.abort();
    const timer = setTimeout(() => Deno.exit(1), (gracePeriod + 5) * 1000);
    Deno.unrefTimer(timer);
  })();
  return () => {
    watching = false;
    reader.cancel().catch(() => undefined);
  };
}
