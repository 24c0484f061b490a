/**
 * What the role modules of the embedded store share: its database and
 * statements, its codec and clock, its event log and task waiters, and its
 * write transaction. A role module takes this context, not the store.
 *
 * Invariants:
 * - Every state change is one `BEGIN IMMEDIATE` transaction: all of it, or
 *   none, so a process can die at any line without losing a task.
 * - The task events of a transaction are written in it, as it commits: one
 *   event row per event name, whatever the number of tasks.
 * - A task that ends (`taskEnded`) is counted in the status history in the
 *   transaction that ends it, as it commits: one row per status for the
 *   minute and one for the totals, whatever the number of tasks.
 * @module
 */
import type { DatabaseSync, StatementSync } from "node:sqlite";
import type { Codec } from "../../model/codec.ts";
import { COUNTED_STATUSES, minuteOf } from "../status_history.ts";
import { encodedList, wrapData } from "./encoding.ts";
import type { EventLog } from "./events.ts";
import {
  type GroupStatements,
  prepareGroups,
  prepareUnique,
  type Statements,
  type UniqueStatements,
} from "./statements.ts";
import type { TaskWaiters } from "./task_waiters.ts";

/** The parts a store's context is made of. */
export interface StoreContextParts {
  db: DatabaseSync;
  /** The WAL file, when the store is a file in WAL mode. */
  walPath?: string;
  sql: Statements;
  codec: Codec;
  /** The store's clock, Unix seconds. */
  now: () => number;
  /** Seconds a finished task is kept. */
  resultTtl: number;
  events: EventLog;
  waiters: TaskWaiters;
}

/** The database, statements, clock and transaction of one store. */
export class StoreContext {
  readonly db: DatabaseSync;
  /** The WAL file, when the store is a file in WAL mode. */
  readonly walPath?: string;
  readonly sql: Statements;
  readonly codec: Codec;
  /** The store's clock, Unix seconds. */
  readonly now: () => number;
  /** Seconds a finished task is kept. */
  readonly resultTtl: number;
  readonly events: EventLog;
  readonly waiters: TaskWaiters;
  /** Task events of the open transaction, by event name, in order. */
  readonly #taskEvents = new Map<string, Uint8Array[]>();
  /** Tasks ended in the open transaction, by status name. */
  readonly #ended = new Map<string, number>();
  #commits = 0;
  #unique?: UniqueStatements;
  #groups?: GroupStatements;
  /** Statements prepared once per text (a search, per shape of query). */
  readonly #prepared = new Map<string, StatementSync>();

  constructor(parts: StoreContextParts) {
    this.db = parts.db;
    this.walPath = parts.walPath;
    this.sql = parts.sql;
    this.codec = parts.codec;
    this.now = parts.now;
    this.resultTtl = parts.resultTtl;
    this.events = parts.events;
    this.waiters = parts.waiters;
  }

  /** Commits of this store (each writes the WAL file its watcher hears). */
  get commits(): number {
    return this.#commits;
  }

  /**
   * The statements of `enqueueUnique` (and of pruning its keys), prepared
   * on first use: a store that never sees a caller's id or a dedupe key
   * prepares none of them.
   */
  get unique(): UniqueStatements {
    return this.#unique ??= prepareUnique(this.db);
  }

  /** The statements of `joinGroup` (and of pruning groups), on first use. */
  get groups(): GroupStatements {
    return this.#groups ??= prepareGroups(this.db);
  }

  /** The statement of `text`, prepared on its first use. */
  prepared(text: string): StatementSync {
    let statement = this.#prepared.get(text);
    if (!statement) {
      statement = this.db.prepare(text);
      this.#prepared.set(text, statement);
    }
    return statement;
  }

  /** Runs `work` in one write transaction: all of it, or none. */
  transaction<T>(work: () => T): T {
    this.sql.begin.run();
    try {
      const result = work();
      this.#writeCounts();
      this.#writeTaskEvents();
      this.sql.commit.run();
      this.#commits++;
      this.events.committed();
      return result;
    } catch (error) {
      this.#taskEvents.clear();
      this.#ended.clear();
      if (this.db.isTransaction) this.sql.rollback.run();
      throw error;
    }
  }

  /**
   * A task event of the open transaction, whose record is already encoded
   * as `bytes`; written when the transaction commits.
   */
  taskEvent(event: string, bytes: Uint8Array): void {
    const list = this.#taskEvents.get(event);
    if (list) list.push(bytes);
    else this.#taskEvents.set(event, [bytes]);
  }

  /**
   * A task of the open transaction ended with `status` (SUCCESS, FAILURE,
   * REVOKED or RETRY), its final record encoded as `bytes`: it is counted
   * in the status history and `done` is published, as the transaction
   * commits. Every end of a task goes through here.
   */
  taskEnded(status: number, bytes: Uint8Array): void {
    const name = COUNTED_STATUSES.get(status);
    if (name !== undefined) {
      this.#ended.set(name, (this.#ended.get(name) ?? 0) + 1);
    }
    this.taskEvent("done", bytes);
  }

  /**
   * The counts of the tasks ended in the transaction, added to the minute
   * of the store's clock and to the totals.
   */
  #writeCounts(): void {
    if (this.#ended.size === 0) return;
    const minute = minuteOf(this.now());
    for (const [status, count] of this.#ended) {
      this.sql.countMinute.run(minute, status, count);
      this.sql.countTotal.run(status, count);
    }
    this.#ended.clear();
  }

  /**
   * The task events of a transaction as one row per event name: the record
   * for one, `*<event>` with the list of records for many (as a Redis
   * script publishes them), so a batch of 1000 tasks writes 1000 task rows
   * and one event row, not 2000 rows.
   */
  #writeTaskEvents(): void {
    for (const [event, list] of this.#taskEvents) {
      const many = list.length > 1;
      this.events.insert(
        "task",
        many ? `*${event}` : event,
        wrapData(this.codec, many ? encodedList(this.codec, list) : list[0]),
      );
    }
    this.#taskEvents.clear();
  }
}
