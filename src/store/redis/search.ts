/**
 * Reading tasks on Redis: one by its id (`get`), or many by a query
 * (`searchTasks`). A task has no key of its own (no index of ids to write
 * for each task): its record is in the queue that holds it, found by
 * looking in every queue of the registry, in one pipelined round trip.
 *
 * Invariants:
 * - A task reads as its final record (`done`) when it has one, else as
 *   queued, STARTED by its worker while it runs (`withStart`).
 * - A queue's `search` ZSET (id → timeQueued) lists exactly the tasks that
 *   have a record in the queue, kept by the scripts that write and drop
 *   records (one ZADD per task queued, one ZREM per task dropped, inside
 *   them: no round trip more). A search walks these indexes newest first
 *   and reads records in pipelined batches, a bounded number per page; it
 *   costs nothing until someone searches.
 * - A search passes over a record that cannot be read, never throws it;
 *   `get` throws it.
 * @module
 */
import type { Buffer } from "node:buffer";
import type { TaskRecord } from "../../model/task.ts";
import type { TaskPage, TaskQuery } from "../store.ts";
import {
  comesBefore,
  encodeCursor,
  matchesFilter,
  parseTaskQuery,
  type SearchFilter,
  type SearchPosition,
  TEXT_SCAN_MAX,
} from "../task_query.ts";
import type { RedisContext } from "./context.ts";
import type { QueueKeys } from "./keys.ts";
import { decodeRecord, withStart } from "./records.ts";
import type { Registry } from "./registry.ts";
import { bytesOrNil, list, number, scored } from "./replies.ts";

/** Search index entries (ZRANGE), and records (HMGET), read at once at most. */
const SEARCH_BATCH = 500;
/**
 * Index entries a search looks at for one page at most (their records are
 * read and decoded): the bound of a page with a text, or any filter that
 * few tasks pass; its cursor goes on from where it stopped.
 */
const SEARCH_SCAN_MAX = TEXT_SCAN_MAX;
/**
 * Entries a search going on from a cursor steps back over where others
 * share the cursor's time (then drops those not after the cursor): room
 * for tasks of that time dropped meanwhile.
 */
const SEARCH_TIE_SLACK = 16;

/** A stored task: its queue, and its records there. */
export interface StoredTask {
  queue: string;
  /** Its final record, once it ended. */
  done: Buffer | null;
  /** Its record while queued or running. */
  queued: Buffer | null;
  /** Its start info, while it runs. */
  started: Buffer | null;
}

/** Tasks read by id or by query. */
export class Search {
  readonly #ctx: RedisContext;
  readonly #registry: Registry;

  /** Reads the tasks of the queues of `registry`. */
  constructor(ctx: RedisContext, registry: Registry) {
    this.#ctx = ctx;
    this.#registry = registry;
  }

  /** The task of `id` as stored; throws when its record cannot be read. */
  async get(id: string): Promise<TaskRecord | undefined> {
    const found = await this.find(id);
    if (!found) return undefined;
    const { done, queued, started } = found;
    const payload = done ?? queued;
    if (!payload) return undefined;
    const decoded = decodeRecord(this.#ctx.codec, payload);
    if (!decoded.ok) throw new Error(`Task ${id}: ${decoded.reason}`);
    return done ? decoded.record : withStart(decoded.record, started);
  }

  /**
   * The stored task of `id`, in whichever queue of the registry holds it:
   * each queue is looked in, with one pipelined round trip for all.
   */
  async find(id: string): Promise<StoredTask | undefined> {
    const queues = await this.#registry.queues();
    const what = "HGET of a task";
    const found = await Promise.all(queues.map(async (queue) => {
      const keys = this.#ctx.keys.queue(queue);
      const { topology } = this.#ctx;
      const [done, queued, started] = await Promise.all([
        topology.send(["HGET", keys.done, id]),
        topology.send(["HGET", keys.tasks, id]),
        topology.send(["HGET", keys.started, id]),
      ]);
      return {
        queue,
        done: bytesOrNil(done, what, "done"),
        queued: bytesOrNil(queued, what, "tasks"),
        started: bytesOrNil(started, what, "started"),
      };
    }));
    return found.find((entry) => entry.done ?? entry.queued);
  }

  /**
   * A task of `id` stored in a queue other than `queue`: where the script
   * of `queue` cannot look (a Cluster), the caller looks first.
   */
  async storedElsewhere(
    id: string,
    queue: string,
  ): Promise<TaskRecord | undefined> {
    const found = await this.find(id);
    const { keys } = this.#ctx;
    if (!found || keys.queue(found.queue).tasks === keys.queue(queue).tasks) {
      return undefined;
    }
    return await this.get(id);
  }

  /**
   * Searches the tasks of the queues' search indexes: every queue's index
   * walked newest first (`ZRANGE ... REV BYSCORE`), merged by (time, id),
   * the records of each batch read with HMGET and tested. At most
   * `SEARCH_SCAN_MAX` entries are looked at per page; a page that stops
   * there has a `next` cursor.
   */
  async searchTasks(query: TaskQuery): Promise<TaskPage> {
    const filter = parseTaskQuery(query);
    const queues = filter.queue !== undefined
      ? [filter.queue]
      : await this.#registry.queues();
    const walks = queues.map((queue) => this.#indexWalk(queue, filter));
    if (filter.after) await this.#skipTies(walks, filter.after);
    const tasks: TaskRecord[] = [];
    let looked = 0;
    let last: SearchPosition | undefined;
    const more = () =>
      walks.some((walk) => walk.buffer.length > 0 || !walk.done);
    while (looked < SEARCH_SCAN_MAX) {
      const batch = await this.#nextEntries(
        walks,
        filter,
        Math.min(SEARCH_BATCH, SEARCH_SCAN_MAX - looked),
      );
      if (batch.length === 0) return { tasks };
      const records = await this.#readRecords(batch);
      for (let i = 0; i < batch.length; i++) {
        looked++;
        last = batch[i];
        const record = records[i];
        if (!record || !matchesFilter(record, filter)) continue;
        tasks.push(record);
        if (tasks.length === filter.limit) {
          return i < batch.length - 1 || more()
            ? { tasks, next: encodeCursor(last) }
            : { tasks };
        }
      }
    }
    return last && more() ? { tasks, next: encodeCursor(last) } : { tasks };
  }

  /** A walk down a queue's search index, from the top of the query's range. */
  #indexWalk(queue: string, filter: SearchFilter): IndexWalk {
    const until = filter.until;
    const after = filter.after;
    // From the cursor's time (inclusive: others may share it), or from the
    // end of the range.
    const fromCursor = after !== undefined &&
      (until === undefined || after.time < until);
    return {
      keys: this.#ctx.keys.queue(queue),
      buffer: [],
      max: fromCursor
        ? String(after.time)
        : until === undefined
        ? "+inf"
        : `(${until}`,
      maxScore: fromCursor ? after.time : undefined,
      min: filter.since === undefined ? "-inf" : String(filter.since),
      offset: 0,
      // Small first (a page of the newest tasks reads no more), then more.
      count: Math.min(SEARCH_BATCH, filter.limit + 1),
      done: false,
    };
  }

  /**
   * Going on from a cursor: in each index that holds the cursor's task at
   * its time, starts past the tasks of that time before it (from their
   * rank), rather than reading them all (a `queueMany` gives thousands of
   * tasks one time). A few are read again and dropped, for room.
   */
  async #skipTies(
    walks: readonly IndexWalk[],
    after: SearchPosition,
  ): Promise<void> {
    const { topology } = this.#ctx;
    const what = "the rank of a search cursor";
    await Promise.all(walks.map(async (walk) => {
      if (walk.maxScore !== after.time) return;
      const key = walk.keys.search;
      const [score, rank, newer] = await Promise.all([
        topology.send(["ZSCORE", key, after.id]),
        topology.send(["ZREVRANK", key, after.id]),
        topology.send(["ZCOUNT", key, `(${after.time}`, "+inf"]),
      ]);
      if (score === null || rank === null) return;
      if (number(score, what, "ZSCORE") !== after.time) return;
      walk.offset = Math.max(
        0,
        number(rank, what, "ZREVRANK") - number(newer, what, "ZCOUNT") + 1 -
          SEARCH_TIE_SLACK,
      );
    }));
  }

  /**
   * The next entries of the merged walks, newest first, `max` at most: only
   * those no walk can still come before (each walk's buffer refilled
   * first), so the order across queues holds.
   */
  async #nextEntries(
    walks: readonly IndexWalk[],
    filter: SearchFilter,
    max: number,
  ): Promise<IndexEntry[]> {
    for (;;) {
      const empty = walks.filter((walk) =>
        walk.buffer.length === 0 && !walk.done
      );
      if (empty.length === 0) break;
      await Promise.all(empty.map((walk) => this.#fetchIndex(walk, filter)));
    }
    // The oldest entry fetched by a walk that has more is as far as the
    // merge goes: that walk's next entries come after it.
    let frontier: IndexEntry | undefined;
    for (const walk of walks) {
      const tail = walk.buffer.at(-1);
      if (!walk.done && tail && (!frontier || comesBefore(tail, frontier))) {
        frontier = tail;
      }
    }
    const out: IndexEntry[] = [];
    while (out.length < max) {
      let next: IndexWalk | undefined;
      for (const walk of walks) {
        const head = walk.buffer[0];
        if (head && (!next || comesBefore(head, next.buffer[0]))) next = walk;
      }
      if (!next) break;
      if (frontier && comesBefore(frontier, next.buffer[0])) break;
      out.push(next.buffer.shift()!);
    }
    return out;
  }

  /**
   * Reads the next entries of a walk's index (`count`, then twice as many,
   * up to `SEARCH_BATCH`), keeping those after the query's cursor.
   */
  async #fetchIndex(walk: IndexWalk, filter: SearchFilter): Promise<void> {
    const entries = scored(
      await this.#ctx.topology.send([
        "ZRANGE",
        walk.keys.search,
        walk.max,
        walk.min,
        "BYSCORE",
        "REV",
        "LIMIT",
        String(walk.offset),
        String(walk.count),
        "WITHSCORES",
      ]),
      "ZRANGE of a search index",
    );
    const fetched = entries.length;
    if (fetched < walk.count) walk.done = true;
    walk.count = Math.min(SEARCH_BATCH, walk.count * 2);
    if (fetched === 0) return;
    const scores: number[] = [];
    for (const { member, score } of entries) {
      const entry = { id: member, time: Number(score), walk };
      scores.push(entry.time);
      // Those of the cursor's time that come before it (skipped by rank
      // but for a few) were on the pages before.
      if (filter.after && !comesBefore(filter.after, entry)) continue;
      walk.buffer.push(entry);
    }
    // The next read starts at the last time read, past the entries of that
    // time read so far (ties come in a fixed order: by id, descending).
    const lastScore = scores[fetched - 1];
    let same = 0;
    while (same < fetched && scores[fetched - 1 - same] === lastScore) same++;
    walk.offset = same === fetched && walk.maxScore === lastScore
      ? walk.offset + fetched
      : same;
    walk.max = entries[fetched - 1].score;
    walk.maxScore = lastScore;
  }

  /**
   * The records of index entries, undefined where there is none or it
   * cannot be read: a queue's records of a batch in one pipelined HMGET of
   * `done`, `tasks` and `started` (a running task reads as `get` reads it).
   */
  async #readRecords(
    entries: readonly IndexEntry[],
  ): Promise<Array<TaskRecord | undefined>> {
    const byWalk = new Map<IndexWalk, number[]>();
    entries.forEach((entry, i) => {
      const list = byWalk.get(entry.walk) ?? [];
      list.push(i);
      byWalk.set(entry.walk, list);
    });
    const what = "HMGET of search records";
    const out: Array<TaskRecord | undefined> = entries.map(() => undefined);
    await Promise.all([...byWalk].map(async ([walk, indexes]) => {
      const ids = indexes.map((i) => entries[i].id);
      const { done, tasks, started } = walk.keys;
      const [finished, queued, starts] = await Promise.all(
        [done, tasks, started].map(async (key) =>
          list(await this.#ctx.topology.send(["HMGET", key, ...ids]), what)
        ),
      );
      indexes.forEach((entry, n) => {
        out[entry] = this.#searchRecord(
          bytesOrNil(finished[n], what, `done[${n}]`),
          bytesOrNil(queued[n], what, `tasks[${n}]`),
          bytesOrNil(starts[n], what, `started[${n}]`),
        );
      });
    }));
    return out;
  }

  /**
   * A task as `get` reads it, or undefined when it is gone or cannot be
   * read.
   */
  #searchRecord(
    done: Buffer | null,
    queued: Buffer | null,
    started: Buffer | null,
  ): TaskRecord | undefined {
    const payload = done ?? queued;
    if (!payload) return undefined;
    const decoded = decodeRecord(this.#ctx.codec, payload);
    if (!decoded.ok) return undefined;
    return done ? decoded.record : withStart(decoded.record, started);
  }
}

/** A search index entry of a walk: a task's place in search order. */
interface IndexEntry extends SearchPosition {
  /** The walk (the queue) it was read from. */
  readonly walk: IndexWalk;
}

/**
 * Where a search is in one queue's search index: the entries read and not
 * yet looked at, and where the next read starts.
 */
interface IndexWalk {
  readonly keys: QueueKeys;
  /** Entries read, not yet taken, newest first. */
  buffer: IndexEntry[];
  /** The top of the next read: a time (inclusive), `(until` or `+inf`. */
  max: string;
  /** `max` as a number when it is an inclusive time. */
  maxScore?: number;
  /** The bottom of the range: `since`, or `-inf`. */
  readonly min: string;
  /** The entries at time `max` the next read skips (read already). */
  offset: number;
  /** How many entries the next read asks for. */
  count: number;
  /** Nothing more in range. */
  done: boolean;
}
