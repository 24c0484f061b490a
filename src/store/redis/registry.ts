/**
 * The registry of queues (`<ns>:queues`, ZSET queue → when it was
 * registered): every queue that may hold records, where `queueNames`,
 * `get` and searches look for them, rather than a SCAN of the database,
 * which walks every key (65 ms with 100,000 retained tasks) and which the
 * dashboard would run every 2 s.
 *
 * Invariants:
 * - A store registers a queue with its first enqueue there, and again once
 *   a minute while it queues in it (pipelined with the enqueue script: on a
 *   Cluster the registry lives on another slot); a pause and a settled
 *   record register their queue too. It follows no finish, revoke or
 *   flush: a queue is live when its keys exist, read by the caller.
 * - An entry with no records left, not paused and not registered for 10
 *   minutes is dropped (`forget_queue.lua`: unless registered again
 *   meanwhile), looked at once a minute at most.
 * - A namespace without a registry (written by an older pq) is found by
 *   SCAN once, and registered.
 * - Every queue registered is also put in `<ns>:counted` (a SET, with the
 *   same registration), which is never dropped from: the queues whose
 *   status history is read, kept after the registry forgets them.
 * @module
 */
import type { RedisContext } from "./context.ts";
import { type QueueKeys, queueOfKey } from "./keys.ts";
import { bulkStrings, list, scored, text } from "./replies.ts";

/** Seconds between two registrations of a queue by one store. */
const REGISTER_EVERY_SECONDS = 60;
/**
 * Seconds a queue's registration must be old before the registry may drop
 * it (when it holds no record): far more than producers take to renew it.
 */
const FORGET_AFTER_SECONDS = 10 * REGISTER_EVERY_SECONDS;

/** The registry of queues, as one store keeps it. */
export class Registry {
  readonly #ctx: RedisContext;
  /** When (store clock) this store last registered each queue it queued in. */
  readonly #registered = new Map<string, number>();
  /** When this store last dropped empty queues from the registry. */
  #lastForget = -Infinity;

  /** The registry of the store of `ctx`. */
  constructor(ctx: RedisContext) {
    this.#ctx = ctx;
  }

  /** Registers a queue this store queues in, once a minute at most. */
  async register(queue: string): Promise<void> {
    const now = this.#ctx.now();
    if (
      now - (this.#registered.get(queue) ?? -Infinity) < REGISTER_EVERY_SECONDS
    ) {
      return;
    }
    this.#registered.set(queue, now);
    const { keys, topology } = this.#ctx;
    try {
      // And in the set the status history is read from, which keeps it.
      await Promise.all([
        topology.send(["ZADD", keys.queues, String(now), queue]),
        topology.send(["SADD", keys.counted, queue]),
      ]);
    } catch (error) {
      this.#registered.delete(queue); // Again with the next enqueue.
      throw error;
    }
  }

  /**
   * Every queue of the registry, sorted; now and then it drops the entries
   * that have no records left.
   */
  async queues(): Promise<string[]> {
    const what = "ZRANGE of the registry";
    const entries = scored(
      await this.#ctx.topology.send([
        "ZRANGE",
        this.#ctx.keys.queues,
        "0",
        "-1",
        "WITHSCORES",
      ]),
      what,
    );
    if (entries.length === 0) return await this.#registerFound();
    const names = entries.map(({ member }) => member);
    const now = this.#ctx.now();
    if (now - this.#lastForget < REGISTER_EVERY_SECONDS) return names.sort();
    this.#lastForget = now;
    const old = entries.filter(({ score }) =>
      Number(score) < now - FORGET_AFTER_SECONDS
    );
    const forgotten = await this.#forgetEmpty(old);
    return names.filter((queue) => !forgotten.has(queue)).sort();
  }

  /**
   * Every queue whose status history may hold counts: those of
   * `<ns>:counted` and of the registry (a queue registered by an older pq
   * is in the registry only), sorted.
   */
  async counted(): Promise<string[]> {
    const what = "SMEMBERS of the counted queues";
    const [registered, counted] = await Promise.all([
      this.queues(),
      this.#ctx.topology.send(["SMEMBERS", this.#ctx.keys.counted]),
    ]);
    return [
      ...new Set([
        ...registered,
        ...bulkStrings(counted, what).map(String),
      ]),
    ].sort();
  }

  /** The registered queues whose key `key` exists, sorted. */
  async having(key: keyof QueueKeys): Promise<string[]> {
    const queues = await this.queues();
    const exists = await Promise.all(
      queues.map((queue) =>
        this.#ctx.topology.send(["EXISTS", this.#ctx.keys.queue(queue)[key]])
      ),
    );
    return queues.filter((_, i) => exists[i] === 1);
  }

  /**
   * Drops registry entries whose queue holds no record and is not paused;
   * says which.
   */
  async #forgetEmpty(
    entries: ReadonlyArray<{ member: string; score: string }>,
  ): Promise<Set<string>> {
    const forgotten = new Set<string>();
    await Promise.all(entries.map(async ({ member: queue, score }) => {
      const { tasks, search, paused } = this.#ctx.keys.queue(queue);
      const held = await this.#ctx.topology.send([
        "EXISTS",
        tasks,
        search,
        paused,
      ]);
      if (held !== 0) return;
      const dropped = await this.#ctx.scripts.forgetQueue(
        this.#ctx.keys.queues,
        { queue, registered: score },
      );
      if (dropped) forgotten.add(queue);
    }));
    return forgotten;
  }

  /**
   * The queues of a namespace without a registry, found by SCAN (their
   * `tasks` hash or `search` set), registered now.
   */
  async #registerFound(): Promise<string[]> {
    const found = [
      ...new Set([
        ...await this.#scanQueues("tasks", "hash"),
        ...await this.#scanQueues("search", "zset"),
      ]),
    ].sort();
    if (found.length > 0) {
      const now = String(this.#ctx.now());
      await Promise.all([
        this.#ctx.topology.send([
          "ZADD",
          this.#ctx.keys.queues,
          ...found.flatMap((queue) => [now, queue]),
        ]),
        this.#ctx.topology.send(["SADD", this.#ctx.keys.counted, ...found]),
      ]);
    }
    return found;
  }

  /**
   * The queues whose key `name` exists, of Redis type `type`, sorted: found
   * by SCAN, which walks every key of the database (on a Cluster, of
   * every primary).
   */
  async #scanQueues(
    name: "tasks" | "search",
    type: "hash" | "zset",
  ): Promise<string[]> {
    const { namespace, keys, topology } = this.#ctx;
    const pattern = name === "tasks" ? keys.tasksPattern : keys.searchPattern;
    const names = new Set<string>();
    // On a Cluster each primary walks its own keys.
    for (const node of topology.nodes()) {
      let cursor = "0";
      do {
        const what = "SCAN";
        const [next, found] = list(
          await topology.sendToNode(node, [
            "SCAN",
            cursor,
            "MATCH",
            pattern,
            "COUNT",
            "1000",
            "TYPE",
            type,
          ]),
          what,
        );
        cursor = text(next, what, "cursor");
        for (const key of bulkStrings(found, what, "keys")) {
          const queue = queueOfKey(namespace, String(key), name);
          if (queue !== undefined) names.add(queue);
        }
      } while (cursor !== "0");
    }
    return [...names].sort();
  }
}
