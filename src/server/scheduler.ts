/**
 * The scheduler: queues the runs of periodic jobs (`runEvery` or `cron`). It
 * runs in the arbiter of every server started with `--schedule-periodic`,
 * and exactly one of them, the leader, schedules at a time.
 *
 * - **One leader.** The leader holds the store lock `scheduler` for one
 *   lease (`leaseTimeout` seconds) and renews it every third of a lease. The
 *   others try to take it as often; when the leader dies, one of them has
 *   it within one lease (a leader that stops gracefully frees it at once).
 * - **Each run once.** Run times are a grid every server computes alike
 *   (see `periodic.ts`). Before it queues the run of time `t`, the leader
 *   takes the lock `periodic:<job>:<t in ms>` until well after the next
 *   run; a run whose lock is taken was queued already, by this leader or by
 *   the one before it, and is not queued again.
 * - **No catch-up.** When runs were missed (no leader, a stalled process),
 *   only the latest of them is queued, and the others are skipped. A new
 *   leader queues the latest run of the last two leases (the handover gap)
 *   unless the old leader queued it.
 * - **Schedules managed at run time.** With `schedules`, the leader also
 *   queues the runs of the store's schedules (`runtime_schedules.ts`),
 *   reading them at each pass; a change published on channel `schedules`
 *   starts a pass at once.
 * - **Quiet logs.** The schedule of each job is said once, at info level,
 *   when the scheduler starts and when it becomes the leader; each run it
 *   queues is logged at debug level, with its time in ISO 8601 (UTC).
 *   Failures stay warnings or errors.
 * @module
 */
import { delay } from "../model/_abort.ts";
import { getLogger } from "@logtape/logtape";
import { jobNameOf } from "../runtime/job.ts";
import {
  type PeriodicOptions,
  type Schedule,
  scheduleOf,
} from "../model/periodic.ts";
import { Producer } from "../producer/producer.ts";
import type { JobRegistry } from "../runtime/registry.ts";
import type { Settings } from "../model/settings_types.ts";
import { storeOutage } from "../runtime/store_outage.ts";
import { openStoreWaiting } from "./store_wait.ts";
import type { Locks, PubSub, ScheduleStore } from "../store/store.ts";
import { RuntimeSchedules, SCHEDULES_CHANNEL } from "./runtime_schedules.ts";

const logger = getLogger(["pq", "scheduler"]);

/** The name of the store lock the leader holds. */
const LEADER_LOCK = "scheduler";

/** Seconds a run lock outlives the next run time, for clock skew. */
const RUN_LOCK_MARGIN_SECONDS = 60;

/** A time in Unix seconds as ISO 8601, UTC: `2026-12-07T20:00:01Z`. */
function isoTime(seconds: number): string {
  return new Date(seconds * 1000).toISOString().replace(".000Z", "Z");
}

/** How a periodic job's schedule reads: `every 600 s`, `cron "…" UTC`. */
function scheduleText(cls: PeriodicOptions): string {
  if (cls.cron) return `cron "${cls.cron}" UTC`;
  const anchor = cls.anchor ? ` from ${isoTime(cls.anchor)}` : "";
  return `every ${cls.runEvery} s${anchor}`;
}

/** What a scheduler needs. */
export interface SchedulerOptions {
  /** The store of the leader and run locks. */
  store: Locks;
  /** The jobs; the periodic ones are scheduled. */
  registry: JobRegistry;
  /** Queues a run: `tasks.queue(name, {}, { callback: false, ... })`. */
  producer: Producer;
  /** Seconds the leader lease lasts unless renewed. */
  leaseSeconds: number;
  /** This scheduler's id in the locks (default: host, pid and a random part). */
  owner?: string;
  /** The clock, in Unix seconds (tests inject their own). */
  now?: () => number;
  /**
   * The store of the schedules managed at run time: the leader queues
   * their runs too, and a message on channel `schedules` wakes it.
   */
  schedules?: ScheduleStore & PubSub;
}

/** A run the scheduler queued. */
export interface QueuedRun {
  /** The job name. */
  name: string;
  /** The run time, Unix seconds (`task.meta.scheduledAt`). */
  time: number;
  /** The id of the queued task. */
  id: string;
  /** The schedule's id, for the run of a schedule managed at run time. */
  schedule?: string;
}

/** What one pass of the scheduler did. */
export interface TickReport {
  /** True when this scheduler is the leader after the pass. */
  leader: boolean;
  /** The runs queued in this pass. */
  queued: QueuedRun[];
  /** Seconds until the next pass is due. */
  wait: number;
}

interface Entry {
  name: string;
  schedule: Schedule;
  /** How the schedule reads in logs: `every 600 s`, `cron "0 6 * * 1" UTC`. */
  every: string;
  /** The next run time to queue; undefined when the schedule has ended. */
  next?: number;
}

/**
 * Queues the runs of periodic jobs when it is the leader. Call `tick()` for
 * one pass, or `run(signal)` to pass until `signal` aborts.
 */
export class Scheduler {
  /** This scheduler's id in the store locks. */
  readonly owner: string;
  readonly #store: Locks;
  readonly #producer: Producer;
  readonly #lease: number;
  readonly #now: () => number;
  readonly #entries: Entry[];
  /** Run locks taken, freed once they have expired (SQLite keeps rows). */
  #runLocks: Array<{ name: string; until: number }> = [];
  #leader = false;
  readonly #schedules?: RuntimeSchedules;
  readonly #changes?: PubSub;
  /** Ends the wait between passes early (a schedule changed). */
  #wake?: AbortController;
  /** A schedule changed since the last pass began. */
  #changed = false;

  /** Makes a scheduler of the periodic jobs of `options.registry`. */
  constructor(options: SchedulerOptions) {
    if (!(options.leaseSeconds > 0)) {
      throw new RangeError(
        `Cannot schedule as the lease must be a number of seconds > 0: got ${options.leaseSeconds}`,
      );
    }
    this.#store = options.store;
    this.#producer = options.producer;
    this.#lease = options.leaseSeconds;
    this.#now = options.now ?? (() => Date.now() / 1000);
    this.owner = options.owner ??
      `${Deno.hostname().toLowerCase()}:${Deno.pid}:${
        crypto.randomUUID().slice(0, 8)
      }`;
    if (options.schedules) {
      this.#changes = options.schedules;
      this.#schedules = new RuntimeSchedules({
        store: options.schedules,
        producer: options.producer,
        owner: this.owner,
        window: 2 * this.#lease,
      });
    }
    this.#entries = options.registry.periodic().flatMap((cls) => {
      const schedule = scheduleOf(cls);
      return schedule
        ? [{ name: jobNameOf(cls), schedule, every: scheduleText(cls) }]
        : [];
    });
  }

  /** True while this scheduler holds the leader lease. */
  get leader(): boolean {
    return this.#leader;
  }

  /** The names of the jobs it schedules. */
  get jobs(): string[] {
    return this.#entries.map((entry) => entry.name);
  }

  /**
   * The jobs it schedules with their schedules and next run, as the logs
   * say them: `tick (every 1 s, next 2026-12-07T20:00:01Z)`.
   */
  describe(): string {
    if (this.#entries.length === 0) return "no periodic jobs";
    const now = this.#now();
    return this.#entries.map((entry) => {
      const next = entry.schedule.nextAfter(now);
      const when = next === undefined ? "no run left" : `next ${isoTime(next)}`;
      return `${entry.name} (${entry.every}, ${when})`;
    }).join(", ");
  }

  /**
   * One pass: takes or renews the leader lease and, as the leader, queues
   * every job whose run time has come (the latest run only).
   */
  async tick(): Promise<TickReport> {
    const queued: QueuedRun[] = [];
    await this.#freeExpiredRunLocks();
    const now = this.#now();
    let leader = false;
    const since = Date.now();
    try {
      leader = await this.#store.acquireLock(
        LEADER_LOCK,
        this.owner,
        this.#lease,
      );
      storeOutage.succeeded();
    } catch (error) {
      // A store that is away: said once per outage, by storeOutage.
      const what = "cannot take or renew the scheduler lease";
      if (!storeOutage.failed(error, what, since)) {
        logger.warn("Cannot take or renew the scheduler lease: {error}", {
          error,
        });
      }
    }
    if (leader && !this.#leader) {
      logger.info("Scheduler {owner} is the leader: {jobs}", {
        owner: this.owner,
        jobs: this.describe(),
      });
      // Runs of the handover gap (up to a lease and the third of one the
      // others wait between tries) count as due; their locks stop repeats.
      for (const entry of this.#entries) {
        entry.next = entry.schedule.nextAfter(now - 2 * this.#lease);
      }
    } else if (!leader && this.#leader) {
      logger.warn("Scheduler {owner} lost the leader lease", {
        owner: this.owner,
      });
    }
    this.#leader = leader;
    if (leader) {
      for (const entry of this.#entries) {
        const run = await this.#queueDue(entry, now);
        if (run) queued.push(run);
      }
      if (this.#schedules) queued.push(...await this.#queueSchedules(now));
    }
    return { leader, queued, wait: this.#wait() };
  }

  /**
   * Passes until `signal` aborts, then frees the leader lease so another
   * server takes over at once.
   */
  async run(signal: AbortSignal): Promise<void> {
    const unsubscribe = await this.#changes?.subscribe(
      SCHEDULES_CHANNEL,
      () => {
        this.#changed = true;
        this.#wake?.abort();
      },
    ).catch((error) => {
      logger.warn(
        "Cannot hear changes of schedules (read at each pass): {error}",
        { error },
      );
      return undefined;
    });
    while (!signal.aborted) {
      this.#changed = false;
      let wait = this.#lease / 3;
      try {
        wait = (await this.tick()).wait;
      } catch (error) {
        if (!storeOutage.failed(error, "scheduler pass failed")) {
          logger.error("Scheduler pass failed: {error}", { error });
        }
      }
      // An abort ends the wait early; the loop then sees it and stops. A
      // change of a schedule ends it too, for a pass at once.
      this.#wake = new AbortController();
      if (this.#changed) this.#wake.abort();
      await delay(wait * 1000, {
        signal: AbortSignal.any([signal, this.#wake.signal]),
      }).catch(() => undefined);
    }
    await unsubscribe?.().catch(() => undefined);
    if (this.#leader) {
      this.#leader = false;
      await this.#store.releaseLock(LEADER_LOCK, this.owner).catch(
        (error) =>
          logger.warn("Cannot free the scheduler lease: {error}", { error }),
      );
    }
  }

  /** Queues the latest run of `entry` if its time has come. */
  async #queueDue(entry: Entry, now: number): Promise<QueuedRun | undefined> {
    if (entry.next === undefined || entry.next > now) return undefined;
    const time = entry.schedule.latestAtOrBefore(now) ?? entry.next;
    const after = entry.schedule.nextAfter(time);
    const lock = `periodic:${entry.name}:${Math.round(time * 1000)}`;
    const seconds = (after ?? time) - time +
      Math.max(RUN_LOCK_MARGIN_SECONDS, 2 * this.#lease);
    let taken: boolean;
    const since = Date.now();
    try {
      taken = await this.#store.acquireLock(lock, this.owner, seconds);
    } catch (error) {
      // Nothing was queued: the next pass tries again.
      const what = `cannot lock the run of ${entry.name} at ${isoTime(time)}`;
      if (!storeOutage.failed(error, what, since)) {
        logger.warn("Cannot lock the run of {name} at {time}: {error}", {
          name: entry.name,
          time: isoTime(time),
          error,
        });
      }
      return undefined;
    }
    entry.next = after;
    if (!taken) {
      logger.debug("The run of {name} at {time} was queued already", {
        name: entry.name,
        time: isoTime(time),
      });
      return undefined;
    }
    this.#runLocks.push({ name: lock, until: now + seconds });
    try {
      const task = await this.#producer.tasks.queue(entry.name, {}, {
        callback: false,
        metaParams: { scheduledAt: time, scheduler: this.owner },
      });
      // Debug: a job that runs every second would fill an info log.
      logger.debug("Queued the run of {name} at {time}: task {id}", {
        name: entry.name,
        time: isoTime(time),
        id: task.id,
      });
      return { name: entry.name, time, id: task.id };
    } catch (error) {
      // The enqueue may have happened: the run is skipped, never doubled.
      const what = `cannot queue the run of ${entry.name} at ${
        isoTime(time)
      }; skipped`;
      if (!storeOutage.failed(error, what)) {
        logger.error(
          "Cannot queue the run of {name} at {time}; skipped: {error}",
          { name: entry.name, time: isoTime(time), error },
        );
      }
      return undefined;
    }
  }

  /** Queues the due runs of the schedules managed at run time. */
  async #queueSchedules(now: number): Promise<QueuedRun[]> {
    const since = Date.now();
    try {
      return await this.#schedules!.queueDue(now);
    } catch (error) {
      // Nothing taken: the next pass tries again.
      const what = "cannot read the schedules";
      if (!storeOutage.failed(error, what, since)) {
        logger.warn("Cannot read the schedules: {error}", { error });
      }
      return [];
    }
  }

  /** Seconds until the next lease renewal or run time, whichever is first. */
  #wait(): number {
    let wait = this.#lease / 3;
    if (this.#leader) {
      const now = this.#now();
      for (const entry of this.#entries) {
        if (entry.next !== undefined) {
          wait = Math.min(wait, entry.next - now);
        }
      }
      const due = this.#schedules?.nextDue(now);
      if (due !== undefined) wait = Math.min(wait, due - now);
    }
    // A timer may fire a hair before the clock reaches the run time.
    return Math.max(0.01, wait);
  }

  /** Deletes the run locks whose time is over (they no longer guard). */
  async #freeExpiredRunLocks(): Promise<void> {
    const now = this.#now();
    const expired = this.#runLocks.filter((lock) => lock.until < now);
    if (expired.length === 0) return;
    this.#runLocks = this.#runLocks.filter((lock) => lock.until >= now);
    for (const lock of expired) {
      await this.#store.releaseLock(lock.name, this.owner).catch(() => false);
    }
  }
}

/** What {@linkcode runScheduler} needs. */
export interface RunSchedulerOptions {
  /** The resolved settings (`leaseTimeout` is the leader lease). */
  settings: Settings;
  /** The loaded jobs. */
  registry: JobRegistry;
  /** Aborts to stop scheduling. */
  signal: AbortSignal;
}

/**
 * Runs a scheduler on its own store connection until `signal` aborts. A
 * store that cannot be reached yet is waited for (`storeWait`). Rejects
 * only when the store cannot be opened.
 */
export async function runScheduler(
  options: RunSchedulerOptions,
): Promise<void> {
  const { settings, registry, signal } = options;
  const store = await openStoreWaiting(settings, { signal });
  if (!store) return; // Stopped while waiting.
  const producer = new Producer({
    settings: () => Promise.resolve(settings),
    registry,
    store,
  });
  try {
    await producer.start();
    const scheduler = new Scheduler({
      store,
      registry,
      producer,
      leaseSeconds: settings.leaseTimeout,
      schedules: store,
    });
    logger.info("Scheduler {owner} started: {jobs}", {
      owner: scheduler.owner,
      jobs: scheduler.describe(),
    });
    await scheduler.run(signal);
  } finally {
    await producer.close();
    await store.close();
  }
}
