/**
 * What workflows keep on Redis: the final record of a task that never ran
 * (`settle`), and the members of a group as they finish (`joinGroup`).
 *
 * Invariants:
 * - A settled record is written by one script on the task's queue
 *   (`settle.lua`), which on a single server also looks in the other queues
 *   of the registry, and writes what a finished task leaves; the queue is
 *   registered with it, so that searches and `get` find the record. On a
 *   Cluster, where the script sees one queue's slot, the other queues are
 *   looked in first (not in the same step), as `enqueueUnique` does.
 * - A group is one HASH (`join_group.lua`, one key: any slot of a
 *   Cluster), kept `resultTtl` after its last member.
 * - Both are sent again when the connection is lost with them in flight:
 *   our own record found there means the first one landed; recording a
 *   group's index twice keeps the first value and answers the same.
 * @module
 */
import { COUNTED_STATUSES } from "../status_history.ts";
import type { TaskRecord } from "../../model/task.ts";
import { checkGroupJoin, checkSettled, memberValue } from "../_settle_join.ts";
import type { RedisContext } from "./context.ts";
import type { Registry } from "./registry.ts";
import type { Search } from "./search.ts";
import { sendAgainIfLost } from "./topology.ts";

/** The records and groups of workflows. */
export class WorkflowState {
  readonly #ctx: RedisContext;
  readonly #registry: Registry;
  readonly #search: Search;

  /** Workflow state in the queues of `registry`. */
  constructor(ctx: RedisContext, registry: Registry, search: Search) {
    this.#ctx = ctx;
    this.#registry = registry;
    this.#search = search;
  }

  /**
   * Stores the final record of a task that never ran, unless a task of its
   * id is stored (see `Store.settle`).
   */
  async settle(task: TaskRecord): Promise<boolean> {
    const queue = checkSettled(task);
    const { codec, keys, namespace, scripts, topology } = this.#ctx;
    if (
      !topology.singleServer &&
      await this.#search.storedElsewhere(task.id, queue)
    ) {
      return false;
    }
    const record = codec.encode(task);
    const now = this.#ctx.now();
    const args = {
      now,
      channel: keys.channel("task"),
      queue,
      namespace: topology.scriptNamespace(namespace),
      id: task.id,
      queued: task.timeQueued,
      record,
      status: COUNTED_STATUSES.get(task.status) ?? "",
      expires: now + this.#ctx.resultTtl,
    };
    return await sendAgainIfLost(async (attempt) => {
      const [, reply] = await Promise.all([
        this.#registry.register(queue),
        scripts.settle(keys.queue(queue), args),
      ]);
      if (reply.written) return true;
      return attempt > 1 && reply.there.equals(record);
    });
  }

  /**
   * Records member `index` of `total` of a group; resolves with every
   * member's value once all are there (see `Store.joinGroup`).
   */
  async joinGroup(
    group: string,
    index: number,
    total: number,
    value: unknown,
  ): Promise<unknown[] | undefined> {
    checkGroupJoin(group, index, total);
    const { codec, keys, scripts } = this.#ctx;
    const args = {
      index,
      total,
      value: codec.encode(memberValue(value)),
      // EXPIRE 0 would drop the group at once: a second at least.
      ttl: Math.max(1, Math.ceil(this.#ctx.resultTtl)),
    };
    const values = await sendAgainIfLost(() =>
      scripts.joinGroup(keys.group(group), args)
    );
    return values?.map((bytes) => codec.decode(bytes));
  }
}
