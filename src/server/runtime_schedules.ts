/**
 * The runs of the schedules managed at run time (`api.schedules`), queued
 * by the scheduler's leader (`scheduler.ts`) at each of its passes.
 *
 * - **Read each pass.** The schedules are read from the store at every
 *   pass of the leader; a change published on channel `schedules` wakes
 *   the scheduler for a pass at once, so an upsert applies within a pass.
 * - **Each due time once.** A run is queued with the id
 *   `schedule:<id>:<due time in ms>` (a second queue of it queues
 *   nothing), then taken in the store by a compare-and-set on the
 *   schedule's version and run count. A leader that dies between the two
 *   leaves the run untaken: the next leader queues it again under the same
 *   id (nothing new is queued) and takes it. So a due time is queued once
 *   across the cluster and across a leader's death.
 * - **No catch-up.** Of the due times missed (no leader, a stalled
 *   process), only the latest is queued, and only within two leases of
 *   its time (the handover gap); due times before the last upsert or
 *   resume are never queued.
 * @module
 */
import { getLogger } from "@logtape/logtape";
import {
  dueRunTime,
  nextRunTimes,
  scheduleRunId,
  SCHEDULES_CHANNEL,
  type StoredSchedule,
} from "../model/schedule.ts";
import type { Producer } from "../producer/producer.ts";
import { storeOutage } from "../runtime/store_outage.ts";
import type { ScheduleStore } from "../store/store.ts";

const logger = getLogger(["pq", "scheduler"]);

export { SCHEDULES_CHANNEL };

/** A time in Unix seconds as ISO 8601, UTC: `2026-12-07T20:00:01Z`. */
function isoTime(seconds: number): string {
  return new Date(seconds * 1000).toISOString().replace(".000Z", "Z");
}

/** A run of a schedule the leader queued. */
export interface QueuedScheduleRun {
  /** The schedule's id. */
  schedule: string;
  /** The job name. */
  name: string;
  /** The due time, Unix seconds (`task.meta.scheduledAt`). */
  time: number;
  /** The id of the queued task. */
  id: string;
}

/** What {@linkcode RuntimeSchedules} needs. */
export interface RuntimeSchedulesOptions {
  /** The store of the schedules. */
  store: ScheduleStore;
  /** Queues the runs. */
  producer: Pick<Producer, "tasks">;
  /** The scheduler's id, written in each run's `meta.scheduler`. */
  owner: string;
  /** Seconds a due time may be late and still be queued (two leases). */
  window: number;
}

/** The schedules of a store, as the leader runs them. */
export class RuntimeSchedules {
  readonly #options: RuntimeSchedulesOptions;
  /** The schedules as last read (for the time of the next pass). */
  #loaded: StoredSchedule[] = [];

  /** Runs the schedules of `options.store`. */
  constructor(options: RuntimeSchedulesOptions) {
    this.#options = options;
  }

  /**
   * Reads the schedules and queues the run of each whose due time has come
   * and was not taken; resolves with the runs it queued. Rejects when the
   * schedules cannot be read.
   */
  async queueDue(now: number): Promise<QueuedScheduleRun[]> {
    this.#loaded = await this.#options.store.schedules();
    const queued: QueuedScheduleRun[] = [];
    for (const stored of this.#loaded) {
      const due = dueRunTime(stored, now, this.#options.window);
      if (due === undefined) continue;
      const run = await this.#queueRun(stored, due);
      if (run) queued.push(run);
    }
    return queued;
  }

  /** The soonest next due time of the schedules last read, if any. */
  nextDue(now: number): number | undefined {
    let soonest: number | undefined;
    for (const stored of this.#loaded) {
      if (stored.state.paused) continue;
      const [next] = nextRunTimes(stored, now, 1);
      if (next !== undefined && (soonest === undefined || next < soonest)) {
        soonest = next;
      }
    }
    return soonest;
  }

  /** Queues the run of `due` (under its derived id), then takes it. */
  async #queueRun(
    stored: StoredSchedule,
    due: number,
  ): Promise<QueuedScheduleRun | undefined> {
    const { definition, state } = stored;
    const { store, producer, owner } = this.#options;
    const id = scheduleRunId(definition.id, due);
    const where = { schedule: definition.id, time: isoTime(due) };
    let queued = true;
    try {
      const future = producer.tasks.queue(definition.job, definition.kwargs, {
        ...definition.options,
        id,
        callback: false,
        metaParams: {
          ...definition.options.metaParams,
          scheduledAt: due,
          scheduler: owner,
          schedule: definition.id,
        },
      });
      await future;
      // A leader that died between queueing this run and taking it queued
      // it already: only the take is left to do.
      if ((await future.queued).duplicate) queued = false;
    } catch (error) {
      // Taken all the same below: a run that cannot be queued is skipped,
      // not tried again at every pass.
      queued = false;
      const what = `cannot queue the run of schedule ${definition.id} at ${
        isoTime(due)
      }; skipped`;
      if (!storeOutage.failed(error, what)) {
        logger.error(
          "Cannot queue the run of schedule {schedule} at {time}; skipped: {error}",
          { ...where, error },
        );
      }
    }
    const taken = await store.takeScheduleRun(definition.id, due, {
      version: state.version,
      runs: state.runs,
    });
    if (!taken) {
      // Another leader took it, or the schedule changed since it was read.
      logger.debug("The run of schedule {schedule} at {time} was taken", where);
      return undefined;
    }
    if (!queued) return undefined;
    // Debug: a schedule that runs every second would fill an info log.
    logger.debug("Queued the run of schedule {schedule} at {time}: task {id}", {
      ...where,
      id,
    });
    return { schedule: definition.id, name: definition.job, time: due, id };
  }
}
