/**
 * Queues as a whole on Redis: which there are (from the registry,
 * `registry.ts`), their sizes and stats, pausing and resuming them, and
 * flushing their queued tasks.
 *
 * Invariants:
 * - A queue is listed while its `tasks` hash exists: it holds the record
 *   of every queued and running task, and Redis drops it when the last one
 *   ends. It is paused while its `paused` key exists.
 * - Sizes and stats are read in one pipelined round trip for every queue
 *   (and one more for the records of the oldest ready tasks).
 * @module
 */
import { checkQueueName } from "../_queue_name.ts";
import type { QueueStats } from "../store.ts";
import type { RedisContext } from "./context.ts";
import { groupedReady } from "./groups.ts";
import { decodeRecord } from "./records.ts";
import type { Registry } from "./registry.ts";
import { bytesOrNil, list, number, scored } from "./replies.ts";

/** The queues of a store. */
export class Queues {
  readonly #ctx: RedisContext;
  readonly #registry: Registry;

  /** The queues of `registry`. */
  constructor(ctx: RedisContext, registry: Registry) {
    this.#ctx = ctx;
    this.#registry = registry;
  }

  /** The queues that hold queued or running tasks, sorted. */
  async queueNames(): Promise<string[]> {
    return await this.#registry.having("tasks");
  }

  /**
   * Sets the queue's `paused` key (pause.lua, which publishes `paused`),
   * after registering the queue (pipelined): the registry is where
   * {@linkcode pausedQueues} looks, and it keeps a paused queue.
   */
  async pauseQueue(queue: string): Promise<boolean> {
    checkQueueName(queue, "pause queue");
    const { codec, keys, scripts, topology } = this.#ctx;
    const now = this.#ctx.now();
    const [, paused] = await Promise.all([
      topology.send(["ZADD", keys.queues, String(now), queue]),
      scripts.pause(keys.queue(queue), {
        now,
        channel: keys.channel("queue"),
        name: codec.encode(queue),
      }),
    ]);
    return paused;
  }

  /** Drops the queue's `paused` key and wakes a worker (resume.lua). */
  async resumeQueue(queue: string): Promise<boolean> {
    checkQueueName(queue, "resume queue");
    const { codec, keys, scripts } = this.#ctx;
    return await scripts.resume(keys.queue(queue), {
      channel: keys.channel("queue"),
      name: codec.encode(queue),
    });
  }

  /** The registered queues whose `paused` key exists. */
  async pausedQueues(): Promise<string[]> {
    return await this.#registry.having("paused");
  }

  /**
   * Sizes from one pipelined round trip for every queue, and one more for
   * the records of the oldest ready tasks. Delayed tasks already due are
   * ready (the next claim moves them to the ready list); the latency is
   * that of the oldest task due, ready or still in the delayed set.
   */
  async queueStats(queues?: readonly string[]): Promise<QueueStats[]> {
    const names = queues ?? await this.queueNames();
    const now = this.#ctx.now();
    const sizes = await Promise.all(
      names.map((queue) => this.#sizes(queue, now)),
    );
    // The due tasks of the queues' groups (fair queues) are ready too.
    const grouped = await Promise.all(
      names.map((queue) => groupedReady(this.#ctx, queue)),
    );
    const oldest = await Promise.all(names.map((queue, q) => {
      const ids = [...sizes[q].oldestIds, ...grouped[q].nextIds];
      if (ids.length === 0) return [];
      const what = `the oldest tasks of queue ${queue}`;
      return this.#ctx.topology.send([
        "HMGET",
        this.#ctx.keys.queue(queue).tasks,
        ...ids,
      ]).then((reply) =>
        list(reply, what).map((record, i) => bytesOrNil(record, what, i))
      );
    }));
    return names.map((queue, q) => {
      const { ready, delayed, dueDelayed, firstDue, running, prioritized } =
        sizes[q];
      let since = dueDelayed > 0 ? firstDue : Infinity;
      for (const record of oldest[q]) {
        const decoded = record ? decodeRecord(this.#ctx.codec, record) : null;
        if (decoded?.ok) {
          since = Math.min(
            since,
            decoded.record.timeQueued + decoded.record.delay,
          );
        }
      }
      return {
        queue,
        ready: ready + prioritized + dueDelayed + grouped[q].ready,
        delayed: delayed - dueDelayed,
        running,
        latency: Number.isFinite(since) ? Math.max(0, now - since) : 0,
      };
    });
  }

  /** Drops every queued task of `queues`; resolves with how many. */
  async flush(queues: readonly string[]): Promise<number> {
    let total = 0;
    for (const queue of queues) {
      const ids = await this.#ctx.scripts.flush(this.#ctx.keys.queue(queue));
      total += ids.length;
    }
    return total;
  }

  /**
   * The sizes of a queue for its stats, and the ids of the tasks that may
   * be its oldest due one, read in one pipeline.
   */
  async #sizes(queue: string, now: number): Promise<{
    ready: number;
    delayed: number;
    dueDelayed: number;
    /** When the first delayed task is due (Infinity: none). */
    firstDue: number;
    running: number;
    prioritized: number;
    oldestIds: string[];
  }> {
    const { topology } = this.#ctx;
    const keys = this.#ctx.keys.queue(queue);
    const what = `the stats of queue ${queue}`;
    const [
      ready,
      delayed,
      dueDelayed,
      firstDelayed,
      running,
      lastReady,
      prioritized,
      firstPrio,
      lastPrio,
    ] = await Promise.all([
      topology.send(["LLEN", keys.ready]),
      topology.send(["ZCARD", keys.delayed]),
      topology.send(["ZCOUNT", keys.delayed, "-inf", String(now)]),
      topology.send(["ZRANGE", keys.delayed, "0", "0", "WITHSCORES"]),
      topology.send(["ZCARD", keys.running]),
      // The ready list is pushed on the left and popped on the right: its
      // oldest is its last; when it became due is in its record.
      topology.send(["LINDEX", keys.ready, "-1"]),
      topology.send(["ZCARD", keys.prio]),
      // The next of the highest priority and the last of the lowest: the
      // oldest task with a priority is one of them when one priority is
      // used; with more, its latency is read from these two only.
      topology.send(["ZRANGE", keys.prio, "0", "0"]),
      topology.send(["ZRANGE", keys.prio, "-1", "-1"]),
    ]);
    const [first] = scored(firstDelayed, what);
    const oldest = bytesOrNil(lastReady, what, "LINDEX");
    return {
      ready: number(ready, what, "LLEN"),
      delayed: number(delayed, what, "ZCARD delayed"),
      dueDelayed: number(dueDelayed, what, "ZCOUNT delayed"),
      firstDue: first ? Number(first.score) : Infinity,
      running: number(running, what, "ZCARD running"),
      prioritized: number(prioritized, what, "ZCARD prio"),
      oldestIds: [
        ...oldest === null ? [] : [String(oldest)],
        ...list(firstPrio, what, "ZRANGE prio first").map(String),
        ...list(lastPrio, what, "ZRANGE prio last").map(String),
      ],
    };
  }
}
