/**
 * `api.schedules`: schedules managed at run time, kept in the store and run
 * by the scheduler leader of the servers started with `--schedule-periodic`.
 * A facade over its producer's store: every argument is checked here,
 * before the store is called, and each change is published on channel
 * `schedules` (it wakes the leader, so the change applies at once).
 * @module
 */
import { describeValue } from "../model/errors.ts";
import {
  checkSchedule,
  checkScheduleId,
  type ScheduleInfo,
  scheduleInfo,
  type ScheduleInput,
  SCHEDULES_CHANNEL,
} from "../model/schedule.ts";
import { checkKwargs } from "../runtime/kwargs_schema.ts";
import type { JobRegistry } from "../runtime/registry.ts";
import type { PubSub, ScheduleStore } from "../store/store.ts";

/** What `api.schedules` uses of its producer. */
export interface SchedulesHost {
  /** The store (after `start()`). */
  readonly store: ScheduleStore & PubSub;
  /** The jobs whose code this process has (their kwargs are checked). */
  readonly registry: JobRegistry;
  /** Opens the producer; idempotent. */
  start(): Promise<unknown>;
}

/** Options of {@linkcode Schedules.get} and {@linkcode Schedules.list}. */
export interface ScheduleReadOptions {
  /** How many next run times to give (default 5, at most 100). */
  count?: number;
  /** The next runs after this time (default now): a Date or Unix seconds. */
  after?: Date | number;
}

/**
 * The schedules of the producer API (`api.schedules`): jobs queued on a
 * schedule that is kept in the store and changed while the servers run,
 * unlike periodic jobs (`runEvery`, `cron`) declared in code. Each due
 * time is queued once across the cluster, as a task of id
 * `schedule:<id>:<due time in ms>` whose `meta.scheduledAt` is the due time.
 *
 * @example
 * ```ts
 * import { PulsarQueue } from "@pq/queue";
 * await using api = await new PulsarQueue().api().start();
 * await api.schedules.upsert({
 *   id: "nightly-report",
 *   job: "report",
 *   cron: "30 2 * * *",
 *   timezone: "Europe/Berlin",
 * });
 * console.log((await api.schedules.get("nightly-report"))?.nextRuns);
 * ```
 */
export class Schedules {
  readonly #producer: SchedulesHost;

  /** Made by the producer. */
  constructor(producer: SchedulesHost) {
    this.#producer = producer;
  }

  /**
   * Creates or replaces the schedule of `schedule.id`. A replaced one keeps
   * its runs so far (its `limit` counts them) and its pause; the new
   * definition applies to the due times after the call. Rejects with a
   * `TypeError` (a `RangeError` for `start` not before `end`) naming the
   * bad key, with the close name of a mistyped one; the kwargs of a job
   * this process has are checked by its schema.
   *
   * @returns The schedule as stored, with its next runs.
   *
   * @example
   * ```ts
   * import { PulsarQueue } from "@pq/queue";
   * await using api = await new PulsarQueue().api().start();
   * await api.schedules.upsert({
   *   id: "sync",
   *   job: "sync",
   *   kwargs: { full: false },
   *   every: 600,
   *   limit: 10,
   * });
   * ```
   */
  async upsert(schedule: ScheduleInput): Promise<ScheduleInfo> {
    const definition = checkSchedule(schedule);
    const producer = this.#producer;
    await producer.start();
    const job = producer.registry.get(definition.job);
    if (job?.schema) {
      const checked = await checkKwargs(job, definition.job, definition.kwargs);
      if ("invalid" in checked) {
        throw new TypeError(`Cannot upsert schedule: ${checked.invalid}`);
      }
    }
    await producer.store.upsertSchedule(definition);
    await this.#changed("upserted", definition.id);
    return (await this.get(definition.id))!;
  }

  /**
   * Every schedule, sorted by id, each with its next runs.
   *
   * @example
   * ```ts
   * import { PulsarQueue } from "@pq/queue";
   * await using api = await new PulsarQueue().api().start();
   * for (const s of await api.schedules.list()) console.log(s.id, s.nextRuns[0]);
   * ```
   */
  async list(options: ScheduleReadOptions = {}): Promise<ScheduleInfo[]> {
    const { count, after } = readOptions(options, "list schedules");
    await this.#producer.start();
    const stored = await this.#producer.store.schedules();
    return stored.map((one) => scheduleInfo(one, after, count));
  }

  /**
   * The schedule of `id` with its next run times (5 by default), or
   * undefined when there is none.
   *
   * @example
   * ```ts
   * import { PulsarQueue } from "@pq/queue";
   * await using api = await new PulsarQueue().api().start();
   * const info = await api.schedules.get("nightly-report", { count: 3 });
   * console.log(info?.nextRuns.map((t) => new Date(t * 1000).toISOString()));
   * ```
   */
  async get(
    id: string,
    options: ScheduleReadOptions = {},
  ): Promise<ScheduleInfo | undefined> {
    checkScheduleId(id, "get schedule");
    const { count, after } = readOptions(options, "get schedule");
    await this.#producer.start();
    const stored = await this.#producer.store.schedule(id);
    return stored && scheduleInfo(stored, after, count);
  }

  /**
   * Deletes the schedule of `id`: no run of it is queued from now on (runs
   * queued already stay). Resolves true when there was one.
   *
   * @example
   * ```ts
   * import { PulsarQueue } from "@pq/queue";
   * await using api = await new PulsarQueue().api().start();
   * await api.schedules.remove("nightly-report");
   * ```
   */
  async remove(id: string): Promise<boolean> {
    checkScheduleId(id, "remove schedule");
    await this.#producer.start();
    const removed = await this.#producer.store.removeSchedule(id);
    if (removed) await this.#changed("removed", id);
    return removed;
  }

  /**
   * Pauses the schedule of `id`: none of its runs is queued until it is
   * resumed. Resolves true when it was running and is now paused, false
   * when it was paused already; rejects with a `RangeError` when there is
   * no such schedule.
   *
   * @example
   * ```ts
   * import { PulsarQueue } from "@pq/queue";
   * await using api = await new PulsarQueue().api().start();
   * await api.schedules.pause("nightly-report");
   * ```
   */
  pause(id: string): Promise<boolean> {
    return this.#setPaused(id, true);
  }

  /**
   * Resumes a paused schedule: its runs due after this call are queued
   * (those due while it was paused are skipped). Resolves true when it was
   * paused; rejects with a `RangeError` when there is no such schedule.
   *
   * @example
   * ```ts
   * import { PulsarQueue } from "@pq/queue";
   * await using api = await new PulsarQueue().api().start();
   * await api.schedules.resume("nightly-report");
   * ```
   */
  resume(id: string): Promise<boolean> {
    return this.#setPaused(id, false);
  }

  async #setPaused(id: string, paused: boolean): Promise<boolean> {
    const what = paused ? "pause schedule" : "resume schedule";
    checkScheduleId(id, what);
    await this.#producer.start();
    const changed = await this.#producer.store.setSchedulePaused(id, paused);
    if (changed === undefined) {
      throw new RangeError(
        `Cannot ${what} '${id}' as there is no such schedule: see api.schedules.list()`,
      );
    }
    if (changed) await this.#changed(paused ? "paused" : "resumed", id);
    return changed;
  }

  /** Publishes a change, which wakes the scheduler's leader. */
  async #changed(event: string, id: string): Promise<void> {
    await this.#producer.store.publish({
      channel: SCHEDULES_CHANNEL,
      event,
      data: id,
    });
  }
}

/** The checked options of a read: how many runs, after when. */
function readOptions(
  options: ScheduleReadOptions,
  what: string,
): { count: number; after: number } {
  const count = options.count ?? 5;
  if (!(Number.isSafeInteger(count) && count >= 0 && count <= 100)) {
    throw new TypeError(
      `Cannot ${what} as 'count' must be an integer from 0 to 100: got ${
        describeValue(count)
      }`,
    );
  }
  const after = options.after === undefined
    ? Date.now() / 1000
    : options.after instanceof Date
    ? options.after.getTime() / 1000
    : options.after;
  if (typeof after !== "number" || !Number.isFinite(after)) {
    throw new TypeError(
      `Cannot ${what} as 'after' must be a Date or Unix seconds: got ${
        describeValue(options.after)
      }`,
    );
  }
  return { count, after };
}
