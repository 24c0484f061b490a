/**
 * The embedded store: one SQLite file (`node:sqlite`), shared safely by the
 * processes of one machine. WAL journal and a busy timeout let several
 * processes write; every state change is one `BEGIN IMMEDIATE` transaction,
 * so a process can die at any line without losing a task. Events go through
 * a table that every process polls, pruned after a minute.
 * @module
 */
import { DatabaseSync, type StatementSync } from "node:sqlite";
import { type Codec, codecFor } from "../codec.ts";
import { TaskStatus } from "../status.ts";
import { parseTaskRecord, type TaskRecord } from "../task.ts";
import type {
  ChannelMessage,
  Claim,
  ClaimRequest,
  Finish,
  Lease,
  MessageListener,
  ReclaimReport,
  RevokeOutcome,
  Store,
  StoreOptions,
} from "./store.ts";

/** Row states. */
const QUEUED = 0;
const RUNNING = 1;
const FINISHED = 2;

/** Bumped when the schema changes. */
const SCHEMA_VERSION = 1;
/** Seconds events are kept for subscribers of other processes. */
const EVENT_RETENTION_SECONDS = 60;
/** Milliseconds between polls of the events table and of due tasks. */
const POLL_MS = 15;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS tasks (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  queue TEXT NOT NULL,
  state INTEGER NOT NULL,
  due_at REAL NOT NULL,
  max_concurrency INTEGER,
  lease_token TEXT,
  lease_until REAL,
  redeliveries INTEGER NOT NULL DEFAULT 0,
  revoke_requested INTEGER NOT NULL DEFAULT 0,
  expires_at REAL,
  payload BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS tasks_ready ON tasks (queue, due_at) WHERE state = 0;
CREATE INDEX IF NOT EXISTS tasks_running ON tasks (name, lease_until) WHERE state = 1;
CREATE INDEX IF NOT EXISTS tasks_leases ON tasks (lease_until) WHERE state = 1;
CREATE INDEX IF NOT EXISTS tasks_finished ON tasks (expires_at) WHERE state = 2;
CREATE TABLE IF NOT EXISTS events (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  channel TEXT NOT NULL,
  event TEXT NOT NULL,
  payload BLOB NOT NULL,
  created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS locks (
  name TEXT PRIMARY KEY,
  owner TEXT NOT NULL,
  expires_at REAL NOT NULL
);
`;

interface TaskRow {
  rowid: number;
  id: string;
  name: string;
  queue: string;
  max_concurrency: number | null;
  redeliveries: number;
  payload: Uint8Array;
}

/** The statements, prepared once. */
function prepare(db: DatabaseSync) {
  const sql = (text: string) => db.prepare(text);
  return {
    insert: sql(
      `INSERT INTO tasks (id, name, queue, state, due_at, max_concurrency, payload)
       VALUES (?, ?, ?, ${QUEUED}, ?, ?, ?)`,
    ),
    ready: sql(
      `SELECT rowid, id, name, queue, max_concurrency, redeliveries, payload
       FROM tasks WHERE state = ${QUEUED} AND queue = ? AND due_at <= ?
       ORDER BY due_at, rowid LIMIT ?`,
    ),
    anyReady: sql(
      `SELECT 1 FROM tasks WHERE state = ${QUEUED} AND queue = ? AND due_at <= ? LIMIT 1`,
    ),
    runningOf: sql(
      `SELECT count(*) AS n FROM tasks
       WHERE state = ${RUNNING} AND name = ? AND lease_until > ?`,
    ),
    start: sql(
      `UPDATE tasks SET state = ${RUNNING}, lease_token = ?, lease_until = ?,
       payload = ? WHERE rowid = ?`,
    ),
    renew: sql(
      `UPDATE tasks SET lease_until = ?
       WHERE id = ? AND state = ${RUNNING} AND lease_token = ?
       RETURNING revoke_requested`,
    ),
    finish: sql(
      `UPDATE tasks SET state = ${FINISHED}, lease_token = NULL,
       lease_until = NULL, expires_at = ?, payload = ?
       WHERE id = ? AND state = ${RUNNING} AND lease_token = ?`,
    ),
    leased: sql(
      `SELECT rowid, id, name, queue, max_concurrency, redeliveries, payload
       FROM tasks WHERE id = ? AND state = ${RUNNING} AND lease_token = ?`,
    ),
    requeue: sql(
      `UPDATE tasks SET state = ${QUEUED}, lease_token = NULL,
       lease_until = NULL, redeliveries = ?, payload = ? WHERE rowid = ?`,
    ),
    expired: sql(
      `SELECT rowid, id, name, queue, max_concurrency, redeliveries, payload
       FROM tasks WHERE state = ${RUNNING} AND lease_until < ?`,
    ),
    end: sql(
      `UPDATE tasks SET state = ${FINISHED}, lease_token = NULL,
       lease_until = NULL, expires_at = ?, payload = ? WHERE rowid = ?`,
    ),
    dropFinished: sql(
      `DELETE FROM tasks WHERE state = ${FINISHED} AND expires_at < ?`,
    ),
    byId: sql(
      `SELECT rowid, id, name, queue, state, max_concurrency, redeliveries,
       payload FROM tasks WHERE id = ?`,
    ),
    requestRevoke: sql(
      `UPDATE tasks SET revoke_requested = 1 WHERE rowid = ?`,
    ),
    size: sql(
      `SELECT count(*) AS n FROM tasks WHERE state = ${QUEUED} AND queue = ?`,
    ),
    flush: sql(`DELETE FROM tasks WHERE state = ${QUEUED} AND queue = ?`),
    publish: sql(
      `INSERT INTO events (channel, event, payload, created) VALUES (?, ?, ?, ?)`,
    ),
    lastEvent: sql(`SELECT coalesce(max(seq), 0) AS seq FROM events`),
    eventsAfter: sql(
      `SELECT seq, channel, event, payload FROM events WHERE seq > ?
       ORDER BY seq LIMIT 1000`,
    ),
    firstRecentEvent: sql(
      `SELECT seq FROM events WHERE created >= ? ORDER BY seq LIMIT 1`,
    ),
    pruneEvents: sql(`DELETE FROM events WHERE seq < ?`),
    pruneAllEvents: sql(`DELETE FROM events WHERE created < ?`),
    lock: sql(`SELECT owner, expires_at FROM locks WHERE name = ?`),
    takeLock: sql(
      `INSERT OR REPLACE INTO locks (name, owner, expires_at) VALUES (?, ?, ?)`,
    ),
    freeLock: sql(`DELETE FROM locks WHERE name = ? AND owner = ?`),
  } satisfies Record<string, StatementSync>;
}

/**
 * The embedded SQLite store. Open it with {@linkcode SqliteStore.open}.
 */
export class SqliteStore implements Store {
  readonly url: string;
  readonly #db: DatabaseSync;
  readonly #sql: ReturnType<typeof prepare>;
  readonly #codec: Codec;
  readonly #now: () => number;
  readonly #resultTtl: number;
  readonly #listeners = new Map<string, Set<MessageListener>>();
  readonly #wakeups = new Set<() => void>();
  #cursor = 0;
  #pollTimer?: ReturnType<typeof setTimeout>;
  #publishes = 0;
  #closed = false;

  private constructor(path: string, options: StoreOptions) {
    this.url = `sqlite:${path}`;
    this.#codec = codecFor(options.serializer);
    this.#now = options.now ?? (() => Date.now() / 1000);
    this.#resultTtl = options.resultTtl;
    this.#db = new DatabaseSync(path);
    try {
      this.#db.exec("PRAGMA busy_timeout = 5000");
      if (path !== ":memory:") this.#db.exec("PRAGMA journal_mode = WAL");
      this.#db.exec("PRAGMA synchronous = NORMAL");
      this.#transaction(() => {
        const { user_version } = this.#db.prepare("PRAGMA user_version")
          .get() as { user_version: number };
        if (user_version > SCHEMA_VERSION) {
          throw new Error(
            `the file has schema version ${user_version}, newer than this pq (${SCHEMA_VERSION})`,
          );
        }
        this.#db.exec(SCHEMA);
        this.#db.exec(`PRAGMA user_version = ${SCHEMA_VERSION}`);
      });
      this.#sql = prepare(this.#db);
    } catch (error) {
      this.#db.close();
      throw error;
    }
  }

  /** Opens (and creates) the store in a file, or in memory with `:memory:`. */
  static open(path: string, options: StoreOptions): Promise<SqliteStore> {
    return Promise.resolve().then(() => new SqliteStore(path, options));
  }

  /** Runs `work` in one write transaction: all of it, or none. */
  #transaction<T>(work: () => T): T {
    this.#db.exec("BEGIN IMMEDIATE");
    try {
      const result = work();
      this.#db.exec("COMMIT");
      return result;
    } catch (error) {
      if (this.#db.isTransaction) this.#db.exec("ROLLBACK");
      throw error;
    }
  }

  #encodeTask(record: TaskRecord): Uint8Array {
    return this.#codec.encode(record);
  }

  /** The stored record, or why it cannot be read. */
  #decodeTask(
    payload: Uint8Array,
  ): { ok: true; record: TaskRecord } | { ok: false; reason: string } {
    let value: unknown;
    try {
      value = this.#codec.decode(payload);
    } catch (error) {
      return {
        ok: false,
        reason: `Cannot decode task record with ${this.#codec.name}: ${
          error instanceof Error ? error.message : String(error)
        }`,
      };
    }
    return parseTaskRecord(value);
  }

  #event(channel: string, event: string, data: unknown): void {
    this.#sql.publish.run(
      channel,
      event,
      this.#codec.encode(data),
      this.#now(),
    );
  }

  #wake(): void {
    for (const wake of this.#wakeups) wake();
  }

  enqueue(tasks: readonly TaskRecord[]): Promise<void> {
    return this.#async(() => {
      const encoded = tasks.map((task) => {
        if (task.queue === null) {
          throw new TypeError(`Cannot queue task ${task.id} without a queue`);
        }
        return this.#encodeTask(task);
      });
      this.#transaction(() => {
        tasks.forEach((task, i) => {
          try {
            this.#sql.insert.run(
              task.id,
              task.name,
              task.queue!,
              task.timeQueued + task.delay,
              concurrencyLimit(task),
              encoded[i],
            );
          } catch (error) {
            throw new Error(`Cannot queue task ${task.id}: ${error}`, {
              cause: error,
            });
          }
          this.#event("task", "queued", task);
        });
      });
      this.#wake();
    });
  }

  claim(request: ClaimRequest): Promise<Claim[]> {
    return this.#async(() => {
      const now = this.#now();
      // A cheap read first: most claims of an idle worker find nothing.
      if (
        !request.queues.some((queue) => this.#sql.anyReady.get(queue, now))
      ) return [];
      return this.#transaction(() => this.#claim(request, now));
    });
  }

  #claim(request: ClaimRequest, now: number): Claim[] {
    const claims: Claim[] = [];
    const running = new Map<string, number>();
    for (const queue of request.queues) {
      const wanted = request.max - claims.length;
      if (wanted <= 0) break;
      // Read past tasks held back by their job's concurrency limit.
      const rows = this.#sql.ready.all(
        queue,
        now,
        wanted * 2 + 50,
      ) as unknown[] as TaskRow[];
      for (const row of rows) {
        if (claims.length >= request.max) break;
        if (row.max_concurrency !== null) {
          const count = running.get(row.name) ??
            (this.#sql.runningOf.get(row.name, now) as { n: number }).n;
          if (count >= row.max_concurrency) {
            running.set(row.name, count);
            continue;
          }
          running.set(row.name, count + 1);
        }
        const token = crypto.randomUUID();
        const claim: Claim = {
          id: row.id,
          token,
          redeliveries: row.redeliveries,
          name: row.name,
          queue: row.queue,
        };
        const decoded = this.#decodeTask(row.payload);
        let payload = row.payload;
        if (decoded.ok) {
          claim.task = {
            ...decoded.record,
            status: TaskStatus.STARTED,
            timeStarted: now,
            worker: request.worker,
            node: request.node,
          };
          payload = this.#encodeTask(claim.task);
          this.#event("task", "started", claim.task);
        } else {
          claim.malformed = decoded.reason;
        }
        this.#sql.start.run(
          token,
          now + request.leaseSeconds,
          payload,
          row.rowid,
        );
        claims.push(claim);
      }
    }
    return claims;
  }

  waitForTasks(
    queues: readonly string[],
    seconds: number,
    signal?: AbortSignal,
  ): Promise<void> {
    return new Promise<void>((resolve) => {
      if (signal?.aborted || this.#closed) return resolve();
      const deadline = Date.now() + seconds * 1000;
      let timer: ReturnType<typeof setTimeout> | undefined;
      const done = () => {
        clearTimeout(timer);
        this.#wakeups.delete(done);
        signal?.removeEventListener("abort", done);
        resolve();
      };
      const poll = () => {
        if (this.#closed || Date.now() >= deadline) return done();
        const now = this.#now();
        if (queues.some((queue) => this.#sql.anyReady.get(queue, now))) {
          return done();
        }
        timer = setTimeout(poll, Math.min(POLL_MS, deadline - Date.now()));
      };
      this.#wakeups.add(done);
      signal?.addEventListener("abort", done, { once: true });
      // The first look comes after one interval: the caller has just found
      // nothing it could claim.
      timer = setTimeout(poll, Math.min(POLL_MS, seconds * 1000));
    });
  }

  renew(
    leases: readonly Lease[],
    leaseSeconds: number,
  ): Promise<{ lost: string[]; revoked: string[] }> {
    return this.#async(() => {
      const until = this.#now() + leaseSeconds;
      const lost: string[] = [];
      const revoked: string[] = [];
      this.#transaction(() => {
        for (const { id, token } of leases) {
          const row = this.#sql.renew.get(until, id, token) as
            | { revoke_requested: number }
            | undefined;
          if (!row) lost.push(id);
          else if (row.revoke_requested) revoked.push(id);
        }
      });
      return { lost, revoked };
    });
  }

  finish(outcomes: readonly Finish[]): Promise<boolean[]> {
    return this.#async(() => {
      const now = this.#now();
      const encoded = outcomes.map((outcome) => this.#encodeOutcome(outcome));
      const written = this.#transaction(() =>
        outcomes.map((outcome, i) => {
          const { task, payload } = encoded[i];
          const changed = this.#sql.finish.run(
            now + this.#resultTtl,
            payload,
            outcome.id,
            outcome.token,
          ).changes;
          if (!changed) return false;
          this.#event("task", "done", task);
          const retry = outcome.retry;
          if (retry && task.status === TaskStatus.RETRY) {
            this.#sql.insert.run(
              retry.id,
              retry.name,
              retry.queue!,
              retry.timeQueued + retry.delay,
              concurrencyLimit(retry),
              this.#encodeTask(retry),
            );
            this.#event("task", "queued", retry);
          }
          return true;
        })
      );
      if (outcomes.some((outcome) => outcome.retry)) this.#wake();
      return written;
    });
  }

  /**
   * The outcome's bytes. A result the codec cannot encode (a BigInt, a
   * cycle) must not block the batch: that task ends as FAILURE saying why.
   */
  #encodeOutcome(outcome: Finish): { task: TaskRecord; payload: Uint8Array } {
    try {
      return { task: outcome.task, payload: this.#encodeTask(outcome.task) };
    } catch (error) {
      const task: TaskRecord = {
        ...outcome.task,
        status: TaskStatus.FAILURE,
        result:
          `Cannot store the result of task ${outcome.id} with ${this.#codec.name}: ${
            error instanceof Error ? error.message : String(error)
          }`,
      };
      return { task, payload: this.#encodeTask(task) };
    }
  }

  release(leases: readonly Lease[]): Promise<void> {
    return this.#async(() => {
      this.#transaction(() => {
        for (const { id, token } of leases) {
          const row = this.#sql.leased.get(id, token) as TaskRow | undefined;
          if (row) this.#requeue(row, row.redeliveries);
        }
      });
      this.#wake();
    });
  }

  /** Puts a running row back in its queue as QUEUED. */
  #requeue(row: TaskRow, redeliveries: number): void {
    const decoded = this.#decodeTask(row.payload);
    let payload = row.payload;
    if (decoded.ok) {
      const record: TaskRecord = {
        ...decoded.record,
        status: TaskStatus.QUEUED,
        timeStarted: null,
        worker: null,
        node: null,
      };
      payload = this.#encodeTask(record);
      this.#event("task", "queued", record);
    }
    this.#sql.requeue.run(redeliveries, payload, row.rowid);
  }

  /** Ends a row as a final record and publishes `done`. */
  #end(row: TaskRow, record: TaskRecord, now: number): void {
    this.#sql.end.run(
      now + this.#resultTtl,
      this.#encodeTask(record),
      row.rowid,
    );
    this.#event("task", "done", record);
  }

  reclaim(maxRedeliveries: number): Promise<ReclaimReport> {
    return this.#async(() => {
      const now = this.#now();
      const report = this.#transaction(() => {
        const report = { redelivered: 0, failed: 0 };
        const rows = this.#sql.expired.all(now) as unknown[] as TaskRow[];
        for (const row of rows) {
          const redeliveries = row.redeliveries + 1;
          if (redeliveries <= maxRedeliveries) {
            this.#requeue(row, redeliveries);
            report.redelivered++;
            continue;
          }
          const decoded = this.#decodeTask(row.payload);
          const reason =
            `Task redelivered too many times: its lease expired ${redeliveries} times (maxRedeliveries ${maxRedeliveries})`;
          const base = decoded.ok ? decoded.record : placeholder(row, now);
          this.#end(row, {
            ...base,
            status: TaskStatus.FAILURE,
            result: reason,
            timeEnded: now,
          }, now);
          report.failed++;
        }
        this.#sql.dropFinished.run(now);
        return report;
      });
      this.#pruneEvents();
      if (report.redelivered) this.#wake();
      return report;
    });
  }

  revoke(id: string): Promise<RevokeOutcome> {
    return this.#async(() =>
      this.#transaction((): RevokeOutcome => {
        const row = this.#sql.byId.get(id) as
          | (TaskRow & { state: number })
          | undefined;
        if (!row) return "unknown";
        if (row.state === FINISHED) return "finished";
        if (row.state === RUNNING) {
          this.#sql.requestRevoke.run(row.rowid);
          return "requested";
        }
        const now = this.#now();
        const decoded = this.#decodeTask(row.payload);
        const base = decoded.ok ? decoded.record : placeholder(row, now);
        this.#end(row, {
          ...base,
          status: TaskStatus.REVOKED,
          result: "Revoked before it ran",
          timeEnded: now,
        }, now);
        return "revoked";
      })
    );
  }

  get(id: string): Promise<TaskRecord | undefined> {
    return this.#async(() => {
      const row = this.#sql.byId.get(id) as TaskRow | undefined;
      if (!row) return undefined;
      const decoded = this.#decodeTask(row.payload);
      if (!decoded.ok) throw new Error(`Task ${id}: ${decoded.reason}`);
      return decoded.record;
    });
  }

  sizes(queues: readonly string[]): Promise<number[]> {
    return this.#async(() =>
      queues.map((queue) => (this.#sql.size.get(queue) as { n: number }).n)
    );
  }

  flush(queues: readonly string[]): Promise<number> {
    return this.#async(() =>
      this.#transaction(() =>
        queues.reduce(
          (sum, queue) => sum + Number(this.#sql.flush.run(queue).changes),
          0,
        )
      )
    );
  }

  publish(message: ChannelMessage): Promise<void> {
    return this.#async(() => {
      this.#event(message.channel, message.event, message.data);
      // Publishers that never reclaim (producers) prune now and then too.
      if (++this.#publishes % 1000 === 0) this.#pruneEvents();
    });
  }

  subscribe(
    channel: string,
    listener: MessageListener,
  ): Promise<() => Promise<void>> {
    return this.#async(() => {
      if (this.#listeners.size === 0) {
        this.#cursor = (this.#sql.lastEvent.get() as { seq: number }).seq;
      }
      let listeners = this.#listeners.get(channel);
      if (!listeners) this.#listeners.set(channel, listeners = new Set());
      listeners.add(listener);
      this.#schedulePoll();
      return () => {
        const current = this.#listeners.get(channel);
        current?.delete(listener);
        if (current?.size === 0) this.#listeners.delete(channel);
        if (this.#listeners.size === 0) {
          clearTimeout(this.#pollTimer);
          this.#pollTimer = undefined;
        }
        return Promise.resolve();
      };
    });
  }

  #schedulePoll(): void {
    if (this.#pollTimer !== undefined || this.#closed) return;
    this.#pollTimer = setTimeout(() => {
      this.#pollTimer = undefined;
      if (this.#closed || this.#listeners.size === 0) return;
      try {
        this.#deliver();
      } finally {
        this.#schedulePoll();
      }
    }, POLL_MS);
  }

  /** Delivers the events published since the last poll, in order. */
  #deliver(): void {
    for (;;) {
      const rows = this.#sql.eventsAfter.all(this.#cursor) as Array<{
        seq: number;
        channel: string;
        event: string;
        payload: Uint8Array;
      }>;
      for (const row of rows) {
        this.#cursor = row.seq;
        const listeners = this.#listeners.get(row.channel);
        if (!listeners) continue;
        let data: unknown;
        try {
          data = this.#codec.decode(row.payload);
        } catch {
          continue; // Written by a process with another serializer.
        }
        const message = { channel: row.channel, event: row.event, data };
        for (const listener of [...listeners]) {
          try {
            listener(message);
          } catch {
            // One listener's error must not stop delivery to the others.
          }
        }
      }
      if (rows.length < 1000 || this.#closed) return;
    }
  }

  #pruneEvents(): void {
    const cutoff = this.#now() - EVENT_RETENTION_SECONDS;
    const first = this.#sql.firstRecentEvent.get(cutoff) as
      | { seq: number }
      | undefined;
    if (first) this.#sql.pruneEvents.run(first.seq);
    else this.#sql.pruneAllEvents.run(cutoff);
  }

  acquireLock(name: string, owner: string, seconds: number): Promise<boolean> {
    return this.#async(() =>
      this.#transaction(() => {
        const now = this.#now();
        const held = this.#sql.lock.get(name) as
          | { owner: string; expires_at: number }
          | undefined;
        if (held && held.owner !== owner && held.expires_at > now) {
          return false;
        }
        this.#sql.takeLock.run(name, owner, now + seconds);
        return true;
      })
    );
  }

  releaseLock(name: string, owner: string): Promise<boolean> {
    return this.#async(() => this.#sql.freeLock.run(name, owner).changes > 0);
  }

  close(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#closed = true;
    clearTimeout(this.#pollTimer);
    this.#pollTimer = undefined;
    this.#wake();
    this.#db.close();
    return Promise.resolve();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /** Runs synchronous database work as a promise (errors become rejections). */
  #async<T>(work: () => T): Promise<T> {
    if (this.#closed) {
      return Promise.reject(new Error(`Store ${this.url} is closed`));
    }
    try {
      return Promise.resolve(work());
    } catch (error) {
      return Promise.reject(error);
    }
  }
}

/** The task's `meta.maxConcurrency` when it is a whole number > 0. */
function concurrencyLimit(task: TaskRecord): number | null {
  const limit = task.meta.maxConcurrency;
  return typeof limit === "number" && Number.isInteger(limit) && limit > 0
    ? limit
    : null;
}

/** A stand-in record for a row whose payload cannot be read. */
function placeholder(row: TaskRow, now: number): TaskRecord {
  return {
    id: row.id,
    name: row.name,
    queue: row.queue,
    status: TaskStatus.STARTED,
    timeQueued: now,
    delay: 0,
    retry: 1,
    kwargs: {},
    meta: {},
    runInfo: {},
  };
}
