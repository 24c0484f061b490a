/**
 * Liveness: each consuming process proves it is alive with one write to the
 * store per beat (`store.beat`), every {@linkcode BUSY_BEAT_SECONDS} while
 * it runs tasks and every {@linkcode IDLE_BEAT_SECONDS} while idle. The beat
 * runs on a Web Worker thread with its own store connection, so a job that
 * blocks the main thread (a long computation) cannot stop it; the thread
 * dies with the process, and so do its beats.
 *
 * Invariants: a process counts as alive until its last beat's `until`
 * (its next beat, plus {@linkcode BEAT_GRACE_SECONDS}); every beat also
 * reads the workers whose `until` passed, and the store reports each dead
 * worker to one beater only, which ends the leases of that worker's
 * running tasks at once so that the next reclaim (run at once by this
 * process, or by any other's periodic one) gives them back to their queues.
 * A beat also says when the next other worker's `until` comes: a beater
 * looks again just after it (rather than at its own idle pace), so the
 * tasks of a process that stops beating without exiting (frozen by
 * SIGSTOP, swapped out, stuck with its beat thread, cut off from the
 * store) run again about {@linkcode BEAT_GRACE_SECONDS} after the beat it
 * missed. A process that was found dead learns it from its next beat (the
 * store no longer knew it): its leases are gone, and it stops the tasks it
 * was running (`onForgotten`).
 *
 * A process cut off from the store does not judge the others by what it
 * could not see: its beats just after a run of failed ones (for
 * {@linkcode SPARE_SECONDS} after the first that succeeds) tell the store
 * when it last reached it (`cutOffSince`), and the store reports dead only
 * the workers whose `until` passed before then. Those that beat until the
 * outage began were likely cut off the same way (a store frozen or away
 * for all): they get a beat interval to beat again, and are judged by the
 * first beat after it. A store back from an outage so does not end the
 * leases of the live workers of every process but the first to reach it.
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { connectionProblem, storeOutage } from "../runtime/store_outage.ts";
import type { WorkerStatus } from "../model/worker_status.ts";
import type { Settings } from "../model/settings_types.ts";
import type { TaskRecovery, WorkerRegistry } from "../store/store.ts";

const logger = getLogger(["pq", "beat"]);

/** Seconds between beats of a process that runs tasks. */
const BUSY_BEAT_SECONDS = 1;
/** Seconds between beats of an idle process (nothing of it to give back). */
const IDLE_BEAT_SECONDS = 3;
/**
 * Seconds a beat may be late before its process counts as dead: a busy
 * process is dead 2.5 s after its last beat, an idle one 4.5 s after.
 */
export const BEAT_GRACE_SECONDS = 1.5;
/**
 * Seconds after another worker's `until` that a beater looks again (a
 * beat of that worker on its way is not taken for a missed one).
 */
const CHECK_AFTER_SECONDS = 0.25;
/** The shortest wait between two beats of a process. */
const MIN_BEAT_WAIT_SECONDS = 0.1;
/**
 * Seconds after its first beat that succeeds after failures that a
 * process's beats still spare the workers cut off with it (a busy worker's
 * beat interval and grace: time for them to beat again).
 */
export const SPARE_SECONDS = BUSY_BEAT_SECONDS + BEAT_GRACE_SECONDS;

/** A worker found dead by a beat, and how many of its leases were ended. */
export interface DeadWorker {
  /** Its last status. */
  status: WorkerStatus;
  /** Its running tasks whose leases were ended (to be given back). */
  ended: number;
}

/** How a beat failed, beyond its message. */
export interface BeatFailure {
  /** The store was away (a `StoreConnectionError`...), not a bug. */
  connection: boolean;
  /** When the failed call began (ms since the epoch). */
  since: number;
}

/**
 * What the beat loop reports to the process (which logs: a Web Worker has
 * no logging of its own).
 */
export interface BeatEvents {
  /** Dead workers whose leases were ended: reclaim their queues now. */
  onDead(dead: DeadWorker[]): void;
  /**
   * This process was found dead by another beat (it did not beat in
   * time): its leases were ended, its running tasks given back.
   */
  onForgotten(): void;
  /** A beat failed (said once per run of failures). */
  onError(error: string, failure?: BeatFailure): void;
  /** Beats are written again after failures. */
  onRecovered(): void;
}

/**
 * Logs what a beat loop reports, calls `reclaim` for the dead, and
 * `forgotten` when this process was found dead. A beat that failed for
 * want of the store is told to the process's `storeOutage` (one line per
 * outage), and so is the beat written again.
 */
export function loggedBeatEvents(
  reclaim: (queues: readonly string[]) => void,
  forgotten: () => void,
): BeatEvents {
  // The run of failures was an outage's, said by storeOutage.
  let away = false;
  return {
    onDead(dead) {
      for (const { status, ended } of dead) {
        logger.warn(
          "Worker {worker} stopped beating: {n} of its tasks go back to their queues",
          { worker: status.worker, n: ended },
        );
      }
      reclaim([...new Set(dead.flatMap(({ status }) => status.queues))]);
    },
    onForgotten() {
      logger.warn(
        "This worker was found dead (it did not beat in time): its leases are gone, it stops its tasks",
      );
      forgotten();
    },
    onError(error, failure) {
      away = failure?.connection ?? false;
      if (away) storeOutage.lost(error, "cannot beat", failure?.since);
      else logger.error("Cannot beat: {error}", { error });
    },
    onRecovered() {
      if (away) storeOutage.succeeded();
      else logger.info("Beats are written again");
      away = false;
    },
  };
}

/** Seconds to the next beat of a process with this status. */
function beatEvery(status: WorkerStatus): number {
  return status.concurrentTasks.length > 0
    ? BUSY_BEAT_SECONDS
    : IDLE_BEAT_SECONDS;
}

/** The status a beat carries, with when it counts as dead. */
function withUntil(status: WorkerStatus, now: number): WorkerStatus {
  const until = now + beatEvery(status) + BEAT_GRACE_SECONDS;
  return { ...status, time: now, until };
}

/**
 * Beats on `store` until `signal` aborts, then forgets this worker in the
 * store (it stopped cleanly). `status()` is read at each beat; `wake()`
 * of the returned handle beats at once (a process that became busy). The
 * next beat comes at this process's pace, or just after the next `until`
 * of another worker when that is sooner.
 */
export function beatLoop(
  store: WorkerRegistry & TaskRecovery,
  status: () => WorkerStatus,
  events: BeatEvents,
  signal: AbortSignal,
): { wake(): void; done: Promise<void> } {
  let wake = () => {};
  // A wake asked for while a beat was written: the next beat goes at once.
  let woken = false;
  let failing = false;
  // Whether a beat of this worker was written: the store knows it since.
  let beaten = false;
  // When the last beat that succeeded began (Unix seconds).
  let reached: number | undefined;
  // After failures: since when this process was cut off, and until when
  // (once it reached the store again) its beats spare the others.
  let cutOff: { since: number; until: number } | undefined;
  const done = (async () => {
    while (!signal.aborted) {
      woken = false;
      wake = () => woken = true;
      const beat = withUntil(status(), Date.now() / 1000);
      let every = beatEvery(beat);
      const since = Date.now();
      if (cutOff && !failing && since / 1000 >= cutOff.until) {
        cutOff = undefined;
      }
      try {
        const report = await store.beat(
          beat,
          cutOff ? { cutOffSince: cutOff.since } : {},
        );
        reached = since / 1000;
        if (cutOff && failing) {
          cutOff.until = Date.now() / 1000 + SPARE_SECONDS;
        }
        if (beaten && !report.known) events.onForgotten();
        beaten = true;
        const dead: DeadWorker[] = [];
        for (const worker of report.dead) {
          const ended = await store.expireLeases(worker.worker, worker.queues);
          dead.push({ status: worker, ended });
        }
        if (failing) events.onRecovered();
        failing = false;
        if (dead.length > 0) events.onDead(dead);
        if (report.next !== undefined) {
          const now = Date.now() / 1000;
          // A `next` past is a worker spared as cut off: judged after the
          // spare.
          const at = cutOff && report.next < now
            ? cutOff.until
            : report.next + CHECK_AFTER_SECONDS;
          every = Math.min(every, Math.max(MIN_BEAT_WAIT_SECONDS, at - now));
        }
      } catch (error) {
        if (!failing) {
          events.onError(String(error), failure(error, since));
          // Cut off since the last beat that reached the store (since an
          // earlier outage's, while its workers are still spared).
          const last = cutOff?.since ?? reached ?? since / 1000;
          cutOff = { since: last, until: Infinity };
        }
        failing = true;
      }
      if (woken || signal.aborted) continue;
      await new Promise<void>((resolve) => {
        const stop = () => {
          clearTimeout(timer);
          signal.removeEventListener("abort", stop);
          resolve();
        };
        const timer = setTimeout(stop, every * 1000);
        wake = stop;
        signal.addEventListener("abort", stop, { once: true });
      });
    }
    const since = Date.now();
    await store.leave(status().worker).catch((error) =>
      events.onError(
        `Cannot remove the beat of ${status().worker}: ${error}`,
        failure(error, since),
      )
    );
  })();
  return { wake: () => wake(), done };
}

/** How a store call that began at `since` failed with `error`. */
function failure(error: unknown, since: number): BeatFailure {
  return { connection: connectionProblem(error), since };
}

/** The messages between a process and its beat thread. */
export type ToBeatThread =
  | { type: "start"; settings: Settings; status: WorkerStatus }
  | { type: "status"; status: WorkerStatus }
  | { type: "stop" };

/** The messages from a beat thread. */
export type FromBeatThread =
  | { type: "dead"; dead: DeadWorker[] }
  | { type: "forgotten" }
  | { type: "error"; error: string; failure?: BeatFailure }
  | { type: "recovered" }
  | { type: "stopped" }
  | { type: "failed"; error: string };

/**
 * Beats for this process from a Web Worker (see the module header), or
 * from this thread on a store that cannot be shared between threads
 * (`sqlite::memory:`). Dispose it to stop beating and forget the worker.
 */
export function startBeats(
  settings: Settings,
  store: WorkerRegistry & TaskRecovery,
  status: () => WorkerStatus,
  events: BeatEvents,
): AsyncDisposable & { changed(): void } {
  if (settings.dataStore === "sqlite::memory:") {
    const stop = new AbortController();
    const loop = beatLoop(store, status, events, stop.signal);
    return {
      changed: () => loop.wake(),
      async [Symbol.asyncDispose]() {
        stop.abort();
        await loop.done;
      },
    };
  }
  const thread = new Worker(new URL("./beat_thread.ts", import.meta.url), {
    type: "module",
    name: "pq-beat",
  });
  const stopped = Promise.withResolvers<void>();
  thread.onmessage = (event: MessageEvent<FromBeatThread>) => {
    const message = event.data;
    if (message.type === "dead") events.onDead(message.dead);
    else if (message.type === "forgotten") events.onForgotten();
    else if (message.type === "error") {
      events.onError(message.error, message.failure);
    } else if (message.type === "recovered") events.onRecovered();
    else if (message.type === "stopped") stopped.resolve();
    else if (message.type === "failed") {
      logger.error("The beat thread failed: {error}", { error: message.error });
      stopped.resolve();
    }
  };
  thread.onerror = (event) => {
    event.preventDefault();
    logger.error("The beat thread crashed: {error}", { error: event.message });
    stopped.resolve();
  };
  const send = (message: ToBeatThread) => thread.postMessage(message);
  send({ type: "start", settings, status: status() });
  return {
    changed: () => send({ type: "status", status: status() }),
    async [Symbol.asyncDispose]() {
      send({ type: "stop" });
      const timer = setTimeout(() => stopped.resolve(), 5000);
      await stopped.promise;
      clearTimeout(timer);
      thread.terminate();
    },
  };
}
