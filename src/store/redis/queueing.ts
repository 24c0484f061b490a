/**
 * Putting tasks in their queues on Redis (`enqueue`, `enqueueUnique`), and
 * taking a queued one out again (`revoke`). Each is one script on the
 * task's queue; the queue is registered with it (`registry.ts`), pipelined
 * on the same connection, so that `get` finds a task as soon as it is
 * queued.
 *
 * Invariants:
 * - A batch is queued all or none per queue (one script); queues are
 *   separate on a Cluster.
 * - A script whose connection was lost with it in flight is sent again
 *   once, and its second answer tells whether the first one landed: the
 *   ids are new, so "duplicate" means it did (`enqueue`); our own task
 *   found there means it did (`enqueueUnique`).
 * - Where a script cannot look in other queues (a Cluster), a task of the
 *   same id in another queue is looked for first (not in the same step).
 * @module
 */
import type { DedupeOptions } from "../../model/queue_options.ts";
import { standInRecord, type TaskRecord } from "../../model/task.ts";
import { endedRecord, revokedQueued } from "../_reasons.ts";
import type { RevokeOutcome, UniqueOutcome } from "../store.ts";
import type { RedisContext } from "./context.ts";
import type { PubSub } from "./pub_sub.ts";
import { decodeRecord, queuedFields, withStart } from "./records.ts";
import type { Registry } from "./registry.ts";
import { bytesOrNil } from "./replies.ts";
import type { Search } from "./search.ts";
import { sendAgainIfLost } from "./topology.ts";

/** Tasks into their queues, and out again. */
export class Queueing {
  readonly #ctx: RedisContext;
  readonly #registry: Registry;
  readonly #search: Search;
  readonly #pubSub: PubSub;

  /** Queues tasks in the queues of `registry`. */
  constructor(
    ctx: RedisContext,
    registry: Registry,
    search: Search,
    pubSub: PubSub,
  ) {
    this.#ctx = ctx;
    this.#registry = registry;
    this.#search = search;
    this.#pubSub = pubSub;
  }

  /** Queues tasks, all or none per queue (see `Store.enqueue`). */
  async enqueue(tasks: readonly TaskRecord[]): Promise<void> {
    const { codec, keys, namespace, scripts, topology } = this.#ctx;
    const byQueue = new Map<string, TaskRecord[]>();
    for (const task of tasks) {
      if (task.queue === null) {
        throw new TypeError(`Cannot queue task ${task.id} without a queue`);
      }
      const list = byQueue.get(task.queue) ?? [];
      list.push(task);
      byQueue.set(task.queue, list);
    }
    const encoded = new Map(tasks.map((task) => [task.id, codec.encode(task)]));
    await Promise.all([...byQueue].map(async ([queue, list]) => {
      const args = {
        now: this.#ctx.now(),
        channel: keys.channel("task"),
        queue,
        // Tasks are handed to waiting workers on a single server only.
        namespace: topology.scriptNamespace(namespace),
        tasks: list.map((task) => queuedFields(task, encoded.get(task.id)!)),
      };
      await sendAgainIfLost(async (attempt) => {
        // The registration, then the script, pipelined on one connection
        // (so in that order): `get(id)` finds a queued task.
        const [, reply] = await Promise.all([
          this.#registry.register(queue),
          scripts.enqueue(keys.queue(queue), args),
        ]);
        if (reply.duplicate === undefined || attempt > 1) return;
        throw new Error(`Cannot queue tasks: ${reply.duplicate}`);
      });
    }));
  }

  /**
   * One script on the task's queue (`enqueue_unique.lua`), which on a
   * single server also looks in the other queues of the registry.
   */
  async enqueueUnique(
    task: TaskRecord,
    dedupe?: DedupeOptions,
  ): Promise<UniqueOutcome> {
    const queue = task.queue;
    if (queue === null) {
      throw new TypeError(`Cannot queue task ${task.id} without a queue`);
    }
    const { codec, keys, namespace, scripts, topology } = this.#ctx;
    if (!topology.singleServer) {
      const there = await this.#search.storedElsewhere(task.id, queue);
      if (there) return { queued: false, reason: "id", task: there };
    }
    const args = {
      now: this.#ctx.now(),
      channel: keys.channel("task"),
      queue,
      namespace: topology.scriptNamespace(namespace),
      ...queuedFields(task, codec.encode(task)),
      dedupeKey: dedupe?.key ?? "",
      dedupeTtl: dedupe?.ttl ?? "",
    } as const;
    return await sendAgainIfLost(async (attempt): Promise<UniqueOutcome> => {
      const [, reply] = await Promise.all([
        this.#registry.register(queue),
        scripts.enqueueUnique(keys.queue(queue), args),
      ]);
      if (reply.outcome === "queued") return { queued: true };
      const decoded = decodeRecord(codec, reply.record);
      if (!decoded.ok) {
        throw new Error(
          `Cannot queue task ${task.id}: a task is there (${reply.outcome}) and its record cannot be read: ${decoded.reason}`,
        );
      }
      const there = withStart(decoded.record, reply.started);
      if (
        attempt > 1 && there.id === task.id &&
        there.timeQueued === task.timeQueued
      ) return { queued: true };
      return { queued: false, reason: reply.outcome, task: there };
    });
  }

  /**
   * Revokes a queued task, or asks its worker to stop a running one (see
   * `Store.revoke`). The record is read, then the script writes its
   * REVOKED record only if it is still the one read ("changed": read
   * again).
   */
  async revoke(id: string): Promise<RevokeOutcome> {
    const queue = (await this.#search.find(id))?.queue;
    if (queue === undefined) return "unknown";
    const { codec, keys: layout, scripts, topology } = this.#ctx;
    const keys = layout.queue(queue);
    for (let attempt = 0; attempt < 10; attempt++) {
      const seen = bytesOrNil(
        await topology.send(["HGET", keys.tasks, id]),
        "HGET of a task",
      );
      const decoded = seen ? decodeRecord(codec, seen) : undefined;
      const now = this.#ctx.now();
      const revoked = endedRecord(
        decoded?.ok ? decoded.record : standInRecord({ id, queue }, now),
        revokedQueued(id),
        now,
      );
      const outcome = await scripts.revoke(keys, {
        now,
        channel: layout.channel("task"),
        expires: now + this.#ctx.resultTtl,
        id,
        seen: seen ?? "",
        revoked: codec.encode(revoked),
      });
      if (outcome === "requested") await this.#revokeRunning(id);
      if (outcome !== "changed") return outcome;
    }
    return "requested";
  }

  /**
   * Tells the worker running a task to stop it now (channel `control`,
   * event `revoke`); the revoke set the script wrote is the fallback its
   * worker reads when it renews the lease, should this message be lost.
   */
  async #revokeRunning(id: string): Promise<void> {
    await this.#pubSub.publish({
      channel: "control",
      event: "revoke",
      data: id,
    })
      .catch(() => undefined);
  }
}
