/**
 * The heartbeat of a consuming process: publishes its {@linkcode WorkerStatus}
 * on channel `consumer`, event `status`, when it starts and whenever it
 * changes (at most once every {@linkcode HEARTBEAT_SECONDS}).
 * @module
 */
import { getLogger } from "@logtape/logtape";
import {
  HEARTBEAT_SECONDS,
  type JobAdvert,
  type WorkerStatus,
} from "../model/worker_status.ts";
import type { JobRegistry } from "./registry.ts";
import { storeOutage } from "./store_outage.ts";

const logger = getLogger(["pq", "heartbeat"]);

/** The adverts of every job of a registry, sorted by name. */
export function jobAdverts(registry: JobRegistry): JobAdvert[] {
  return registry.names().map((name) => {
    const job = registry.get(name)!;
    return {
      name,
      defaultQueue: job.defaultQueue ?? null,
      timeout: job.timeout ?? null,
      maxConcurrency: job.maxConcurrency ?? null,
      priority: job.priority ?? null,
      rateLimit: job.rateLimit ?? null,
      rateLimitKeyed: job.rateLimitKey !== undefined,
      // Only a job with a group function says so: other adverts unchanged.
      ...(job.group !== undefined && { grouped: true }),
      ...(job.group !== undefined && job.groupConcurrency !== undefined &&
        { groupConcurrency: job.groupConcurrency }),
    };
  });
}

/** A status as compared for a change: without its times and memory. */
function statusKey(status: WorkerStatus): string {
  const { time: _time, until: _until, memory: _memory, ...rest } = status;
  return JSON.stringify(rest);
}

/** A running heartbeat: tell it of changes; dispose it to stop. */
export interface Heartbeat extends AsyncDisposable {
  /** The status may have changed: published within `seconds`, if it did. */
  changed(): void;
}

/**
 * Publishes `status()` now, then after each `changed()` whose status
 * differs from the last one published (at most once every `seconds`),
 * calling `onChange` too, until disposed. No timer runs while nothing
 * changes. A failed publish is logged (once per run of failures; a store
 * that is away, once per outage by `storeOutage`) and tried again `seconds`
 * later.
 */
export function startHeartbeat(
  publish: (status: WorkerStatus) => Promise<void>,
  status: () => WorkerStatus,
  onChange: () => void = () => {},
  seconds: number = HEARTBEAT_SECONDS,
): Heartbeat {
  let timer: ReturnType<typeof setTimeout> | undefined;
  let sending: Promise<void> | undefined;
  let stopped = false;
  let failing = false;
  // The run of failures is a store outage's, said by storeOutage.
  let away = false;
  let published: string | undefined;
  let last = 0;
  const check = () => {
    timer = undefined;
    if (stopped || sending) return;
    const now = status();
    const key = statusKey(now);
    if (key === published) return;
    onChange();
    last = Date.now();
    const since = last;
    sending = publish(now).then(
      () => {
        if (away) storeOutage.succeeded();
        else if (failing) logger.info("Heartbeats are published again");
        failing = away = false;
        published = key;
      },
      (error) => {
        if (storeOutage.failed(error, "cannot publish a heartbeat", since)) {
          away = true;
        } else if (!failing) {
          logger.error("Cannot publish a heartbeat: {error}", { error });
        }
        failing = true;
      },
    ).finally(() => {
      sending = undefined;
      // What changed meanwhile (or a failed publish) goes out next.
      schedule();
    });
  };
  const schedule = () => {
    if (stopped || timer !== undefined) return;
    const wait = Math.max(0, last + seconds * 1000 - Date.now());
    timer = setTimeout(check, wait);
  };
  check();
  return {
    changed: schedule,
    async [Symbol.asyncDispose]() {
      stopped = true;
      clearTimeout(timer);
      await sending;
      clearTimeout(timer);
    },
  };
}
