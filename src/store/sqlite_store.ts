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
import { parseTaskRecord, standInRecord, type TaskRecord } from "../task.ts";
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

/** Bumped when the schema changes (1 was the skeleton's, without `seq`). */
const SCHEMA_VERSION = 2;
/** Seconds events are kept for subscribers of other processes. */
const EVENT_RETENTION_SECONDS = 60;
/** Milliseconds between polls of the events table. */
const EVENT_POLL_MS = 15;
/** Milliseconds between looks for due tasks in `waitForTasks`. */
const TASK_POLL_MS = 20;
/** Events written between two prunes by one store. */
const PRUNE_EVERY_EVENTS = 1000;
/** Events read in one query of the poll loop. */
const EVENT_PAGE = 1000;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS tasks (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  queue TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('queued', 'running', 'finished')),
  due_at REAL NOT NULL,
  seq INTEGER NOT NULL,
  max_concurrency INTEGER,
  lease_token TEXT,
  lease_until REAL,
  redeliveries INTEGER NOT NULL DEFAULT 0,
  revoke_requested INTEGER NOT NULL DEFAULT 0,
  expires_at REAL,
  payload BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS tasks_claim ON tasks (queue, state, due_at, seq);
CREATE INDEX IF NOT EXISTS tasks_lease ON tasks (state, lease_until);
CREATE INDEX IF NOT EXISTS tasks_slots ON tasks (name, state, lease_until);
CREATE INDEX IF NOT EXISTS tasks_expiry ON tasks (expires_at)
  WHERE expires_at IS NOT NULL;
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

/** The columns of a task row that transitions need. */
interface TaskRow {
  rowid: number;
  id: string;
  name: string;
  queue: string;
  state: "queued" | "running" | "finished";
  due_at: number;
  max_concurrency: number | null;
  redeliveries: number;
  revoke_requested: number;
  payload: Uint8Array;
}

/** A claim candidate: no payload, read only for the ones taken. */
type Candidate = Pick<
  TaskRow,
  "rowid" | "id" | "name" | "max_concurrency" | "redeliveries"
>;

/** A stored record, or why it cannot be read. */
type Decoded = { ok: true; record: TaskRecord } | { ok: false; reason: string };

interface EventRow {
  seq: number;
  channel: string;
  event: string;
  payload: Uint8Array;
}

interface Subscriber {
  listener: MessageListener;
  /** The last event seq published before it subscribed. */
  after: number;
}

const ROW_COLUMNS =
  "rowid, id, name, queue, state, due_at, max_concurrency, redeliveries, revoke_requested, payload";

/** The statements, prepared once. */
function prepare(db: DatabaseSync) {
  const sql = (text: string) => db.prepare(text);
  return {
    // seq above every row: FIFO among tasks due at the same time.
    insert: sql(
      `INSERT INTO tasks
       (id, name, queue, state, due_at, seq, max_concurrency, payload)
       VALUES (?, ?, ?, 'queued', ?,
       coalesce((SELECT max(rowid) FROM tasks), 0) + 1, ?, ?)`,
    ),
    candidates: sql(
      `SELECT rowid, id, name, max_concurrency, redeliveries FROM tasks
       WHERE queue = ? AND state = 'queued' AND due_at <= ?
       ORDER BY due_at, seq LIMIT ?`,
    ),
    anyDue: sql(
      `SELECT 1 AS due FROM tasks
       WHERE queue = ? AND state = 'queued' AND due_at <= ? LIMIT 1`,
    ),
    payload: sql(`SELECT payload FROM tasks WHERE rowid = ?`),
    runningOf: sql(
      `SELECT count(*) AS n FROM tasks
       WHERE name = ? AND state = 'running' AND lease_until > ?`,
    ),
    start: sql(
      `UPDATE tasks SET state = 'running', lease_token = ?, lease_until = ?,
       payload = ? WHERE rowid = ?`,
    ),
    renew: sql(
      `UPDATE tasks SET lease_until = ?
       WHERE id = ? AND state = 'running' AND lease_token = ?
       RETURNING revoke_requested`,
    ),
    finish: sql(
      `UPDATE tasks SET state = 'finished', lease_token = NULL,
       lease_until = NULL, expires_at = ?, payload = ?
       WHERE id = ? AND state = 'running' AND lease_token = ?`,
    ),
    leased: sql(
      `SELECT ${ROW_COLUMNS} FROM tasks
       WHERE id = ? AND state = 'running' AND lease_token = ?`,
    ),
    expired: sql(
      `SELECT ${ROW_COLUMNS} FROM tasks
       WHERE state = 'running' AND lease_until < ?`,
    ),
    requeue: sql(
      `UPDATE tasks SET state = 'queued', lease_token = NULL,
       lease_until = NULL, redeliveries = ?, payload = ? WHERE rowid = ?`,
    ),
    end: sql(
      `UPDATE tasks SET state = 'finished', lease_token = NULL,
       lease_until = NULL, expires_at = ?, payload = ? WHERE rowid = ?`,
    ),
    // No state term: the planner would pick the lease index over this one.
    dropFinished: sql(`DELETE FROM tasks WHERE expires_at < ?`),
    byId: sql(`SELECT ${ROW_COLUMNS}, expires_at FROM tasks WHERE id = ?`),
    requestRevoke: sql(
      `UPDATE tasks SET revoke_requested = 1 WHERE rowid = ?`,
    ),
    size: sql(
      `SELECT count(*) AS n FROM tasks WHERE queue = ? AND state = 'queued'`,
    ),
    flush: sql(`DELETE FROM tasks WHERE queue = ? AND state = 'queued'`),
    publish: sql(
      `INSERT INTO events (channel, event, payload, created)
       VALUES (?, ?, ?, ?)`,
    ),
    lastEvent: sql(`SELECT max(seq) AS seq FROM events`),
    eventsAfter: sql(
      `SELECT seq, channel, event, payload FROM events WHERE seq > ?
       ORDER BY seq LIMIT ${EVENT_PAGE}`,
    ),
    // Reads the old rows in seq order up to the first recent one: no index
    // on `created`, and the rows it reads are the ones deleted next.
    firstRecentEvent: sql(
      `SELECT seq FROM events WHERE created >= ? ORDER BY seq LIMIT 1`,
    ),
    pruneEventsBefore: sql(`DELETE FROM events WHERE seq < ?`),
    pruneAllEvents: sql(`DELETE FROM events WHERE created < ?`),
    lock: sql(`SELECT owner, expires_at FROM locks WHERE name = ?`),
    takeLock: sql(
      `INSERT OR REPLACE INTO locks (name, owner, expires_at) VALUES (?, ?, ?)`,
    ),
    freeLock: sql(`DELETE FROM locks WHERE name = ? AND owner = ?`),
  } satisfies Record<string, StatementSync>;
}

type Statements = ReturnType<typeof prepare>;

/**
 * The embedded SQLite store. Open it with {@linkcode SqliteStore.open}.
 *
 * @example
 * ```ts
 * import { SqliteStore } from "./sqlite_store.ts";
 * await using store = await SqliteStore.open(":memory:", {
 *   serializer: "json",
 *   resultTtl: 3600,
 * });
 * console.log(await store.sizes(["default"])); // [0]
 * ```
 */
export class SqliteStore implements Store {
  /** `sqlite:<path>`. */
  readonly url: string;
  readonly #db: DatabaseSync;
  readonly #sql: Statements;
  readonly #codec: Codec;
  readonly #now: () => number;
  readonly #resultTtl: number;
  readonly #subscribers = new Map<string, Set<Subscriber>>();
  readonly #wakeups = new Set<() => void>();
  /** The last event seq the poll loop has read. */
  #cursor = 0;
  #pollTimer?: ReturnType<typeof setTimeout>;
  #eventsSincePrune = 0;
  #lastPrune: number;
  #closed = false;

  private constructor(path: string, options: StoreOptions) {
    this.url = `sqlite:${path}`;
    this.#codec = codecFor(options.serializer);
    this.#now = options.now ?? (() => Date.now() / 1000);
    this.#resultTtl = options.resultTtl;
    this.#lastPrune = this.#now();
    this.#db = new DatabaseSync(path);
    try {
      // The busy timeout first: the other pragmas may wait for a lock too.
      this.#db.exec("PRAGMA busy_timeout = 5000");
      if (path !== ":memory:") this.#db.exec("PRAGMA journal_mode = WAL");
      this.#db.exec("PRAGMA synchronous = NORMAL");
      this.#transaction(() => {
        const { user_version: version } = this.#db.prepare(
          "PRAGMA user_version",
        ).get() as { user_version: number };
        if (version !== 0 && version !== SCHEMA_VERSION) {
          throw new Error(
            `the file has schema version ${version}, this pq reads version ${SCHEMA_VERSION}`,
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

  /**
   * Opens (and creates) the store in a file, or in memory with `:memory:`
   * (one process only).
   */
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

  /** The stored record, or why it cannot be read. */
  #decodeTask(payload: Uint8Array): Decoded {
    let value: unknown;
    try {
      value = this.#codec.decode(payload);
    } catch (error) {
      return {
        ok: false,
        reason: `Cannot decode task record: ${errorMessage(error)}`,
      };
    }
    return parseTaskRecord(value);
  }

  /** Writes a task event whose record is already encoded as `bytes`. */
  #taskEvent(event: string, bytes: Uint8Array): void {
    this.#insertEvent("task", event, wrapData(this.#codec, bytes));
  }

  #insertEvent(channel: string, event: string, payload: Uint8Array): void {
    this.#sql.publish.run(channel, event, payload, this.#now());
    // Pruning inside the writer's transaction costs one more statement now
    // and then, and keeps the table at about a minute of events.
    if (++this.#eventsSincePrune >= PRUNE_EVERY_EVENTS) this.#pruneEvents();
  }

  #pruneEvents(): void {
    this.#eventsSincePrune = 0;
    const now = this.#now();
    this.#lastPrune = now;
    const cutoff = now - EVENT_RETENTION_SECONDS;
    const first = this.#sql.firstRecentEvent.get(cutoff) as
      | { seq: number }
      | undefined;
    if (first) this.#sql.pruneEventsBefore.run(first.seq);
    else this.#sql.pruneAllEvents.run(cutoff);
  }

  #wake(): void {
    for (const wake of [...this.#wakeups]) wake();
  }

  enqueue(tasks: readonly TaskRecord[]): Promise<void> {
    return this.#async(() => {
      if (tasks.length === 0) return;
      const encoded = tasks.map((task) => this.#encodeQueued(task));
      this.#transaction(() => {
        tasks.forEach((task, i) => {
          this.#insert(task, encoded[i]);
          this.#taskEvent("queued", encoded[i]);
        });
      });
      this.#wake();
    });
  }

  /** The bytes of a task to queue; checked before any transaction. */
  #encodeQueued(task: TaskRecord): Uint8Array {
    queueOf(task);
    return this.#codec.encode(task);
  }

  #insert(task: TaskRecord, payload: Uint8Array): void {
    try {
      this.#sql.insert.run(
        task.id,
        task.name,
        queueOf(task),
        task.timeQueued + task.delay,
        concurrencyLimit(task),
        payload,
      );
    } catch (error) {
      const duplicate = error instanceof Error &&
        /UNIQUE constraint failed/.test(error.message);
      throw new Error(
        `Cannot queue task ${task.id}: ${
          duplicate ? "a task with this id exists" : errorMessage(error)
        }`,
        { cause: error },
      );
    }
  }

  claim(request: ClaimRequest): Promise<Claim[]> {
    return this.#async(() => {
      if (request.max <= 0) return [];
      const now = this.#now();
      // A read without the write lock first: most claims of an idle worker
      // find nothing, and must not queue behind busy writers.
      if (!request.queues.some((queue) => this.#sql.anyDue.get(queue, now))) {
        return [];
      }
      return this.#transaction(() => this.#claim(request, now));
    });
  }

  #claim(request: ClaimRequest, now: number): Claim[] {
    const claims: Claim[] = [];
    // Running tasks per job name, for the names that have a limit: counted
    // once, then kept up to date with this batch.
    const running = new Map<string, number>();
    const leaseUntil = now + request.leaseSeconds;
    for (const queue of request.queues) {
      const wanted = request.max - claims.length;
      if (wanted <= 0) break;
      // A window past tasks held back by their job's concurrency limit.
      const rows = this.#sql.candidates.all(
        queue,
        now,
        wanted * 4 + 100,
      ) as unknown[] as Candidate[];
      for (const row of rows) {
        if (claims.length >= request.max) break;
        if (row.max_concurrency !== null) {
          let count = running.get(row.name);
          if (count === undefined) {
            count = (this.#sql.runningOf.get(row.name, now) as { n: number }).n;
            running.set(row.name, count);
          }
          if (count >= row.max_concurrency) continue;
        }
        const count = running.get(row.name);
        if (count !== undefined) running.set(row.name, count + 1);

        const { payload } = this.#sql.payload.get(row.rowid) as {
          payload: Uint8Array;
        };
        const token = crypto.randomUUID();
        const claim: Claim = {
          id: row.id,
          token,
          redeliveries: row.redeliveries,
          name: row.name,
          queue,
        };
        const decoded = this.#decodeTask(payload);
        let stored = payload;
        if (decoded.ok) {
          const task: TaskRecord = {
            ...decoded.record,
            status: TaskStatus.STARTED,
            timeStarted: now,
            worker: request.worker,
            node: request.node,
          };
          claim.task = task;
          claim.name = task.name;
          stored = this.#codec.encode(task);
          this.#taskEvent("started", stored);
        } else {
          claim.malformed = decoded.reason;
        }
        this.#sql.start.run(token, leaseUntil, stored, row.rowid);
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
      if (signal?.aborted || this.#closed || !(seconds > 0)) return resolve();
      const deadline = Date.now() + seconds * 1000;
      let timer: ReturnType<typeof setTimeout> | undefined;
      const done = () => {
        clearTimeout(timer);
        this.#wakeups.delete(done);
        signal?.removeEventListener("abort", done);
        resolve();
      };
      const look = () => {
        if (this.#closed || Date.now() >= deadline) return done();
        const now = this.#now();
        try {
          if (queues.some((queue) => this.#sql.anyDue.get(queue, now))) {
            return done();
          }
        } catch {
          return done(); // The caller's claim reports the store's error.
        }
        timer = setTimeout(look, Math.min(TASK_POLL_MS, deadline - Date.now()));
      };
      this.#wakeups.add(done);
      signal?.addEventListener("abort", done, { once: true });
      // The first look comes after one interval: the caller has just found
      // nothing it could claim.
      timer = setTimeout(look, Math.min(TASK_POLL_MS, seconds * 1000));
    });
  }

  renew(
    leases: readonly Lease[],
    leaseSeconds: number,
  ): Promise<{ lost: string[]; revoked: string[] }> {
    return this.#async(() => {
      const lost: string[] = [];
      const revoked: string[] = [];
      if (leases.length === 0) return { lost, revoked };
      const until = this.#now() + leaseSeconds;
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
      if (outcomes.length === 0) return [];
      const now = this.#now();
      const encoded = outcomes.map((outcome) => ({
        ...this.#encodeOutcome(outcome),
        retry: outcome.retry && this.#encodeQueued(outcome.retry),
      }));
      let requeued = false;
      const written = this.#transaction(() =>
        outcomes.map((outcome, i) => {
          const { task, payload, retry } = encoded[i];
          const changed = this.#sql.finish.run(
            (task.timeEnded ?? now) + this.#resultTtl,
            payload,
            outcome.id,
            outcome.token,
          ).changes;
          if (!changed) return false;
          this.#taskEvent("done", payload);
          if (outcome.retry && retry) {
            this.#insert(outcome.retry, retry);
            this.#taskEvent("queued", retry);
            requeued = true;
          }
          return true;
        })
      );
      if (requeued) this.#wake();
      return written;
    });
  }

  /**
   * The outcome's bytes. A result the codec cannot encode (a BigInt, a
   * cycle) must not block the batch: that task ends as FAILURE saying why.
   */
  #encodeOutcome(outcome: Finish): { task: TaskRecord; payload: Uint8Array } {
    try {
      return { task: outcome.task, payload: this.#codec.encode(outcome.task) };
    } catch (error) {
      const task: TaskRecord = {
        ...outcome.task,
        status: TaskStatus.FAILURE,
        result:
          `Cannot store the result of task ${outcome.id} with ${this.#codec.name}: ${
            errorMessage(error)
          }`,
      };
      return { task, payload: this.#codec.encode(task) };
    }
  }

  release(leases: readonly Lease[]): Promise<void> {
    return this.#async(() => {
      if (leases.length === 0) return;
      const now = this.#now();
      this.#transaction(() => {
        for (const { id, token } of leases) {
          const row = this.#sql.leased.get(id, token) as TaskRow | undefined;
          if (row) this.#requeue(row, row.redeliveries, now);
        }
      });
      this.#wake();
    });
  }

  /**
   * Puts a running row back in its queue as QUEUED, keeping its place. A
   * task whose revoke was requested ends REVOKED instead: it must not run
   * again. Resolves false in that case.
   */
  #requeue(row: TaskRow, redeliveries: number, now: number): boolean {
    const decoded = this.#decodeTask(row.payload);
    if (row.revoke_requested) {
      this.#end(row, decoded, now, TaskStatus.REVOKED, null);
      return false;
    }
    let payload = row.payload;
    if (decoded.ok) {
      payload = this.#codec.encode({
        ...decoded.record,
        status: TaskStatus.QUEUED,
        timeStarted: null,
        worker: null,
        node: null,
      });
      this.#taskEvent("queued", payload);
    }
    this.#sql.requeue.run(redeliveries, payload, row.rowid);
    return true;
  }

  /** Ends a row with a final status and publishes `done`. */
  #end(
    row: TaskRow,
    decoded: Decoded,
    now: number,
    status: typeof TaskStatus.FAILURE | typeof TaskStatus.REVOKED,
    result: unknown,
  ): void {
    // A malformed record ends as a minimal one, so waiters learn its end.
    const base = decoded.ok ? decoded.record : standInRecord(row, row.due_at);
    const payload = this.#codec.encode({
      ...base,
      status,
      result,
      timeEnded: now,
    });
    this.#sql.end.run(now + this.#resultTtl, payload, row.rowid);
    this.#taskEvent("done", payload);
  }

  reclaim(maxRedeliveries: number): Promise<ReclaimReport> {
    return this.#async(() => {
      const now = this.#now();
      const report = this.#transaction(() => {
        const report: ReclaimReport = {
          redelivered: 0,
          failed: 0,
          changed: [],
        };
        const rows = this.#sql.expired.all(now) as unknown[] as TaskRow[];
        for (const row of rows) {
          report.changed.push(row.id);
          const redeliveries = row.redeliveries + 1;
          if (redeliveries <= maxRedeliveries || row.revoke_requested) {
            if (this.#requeue(row, redeliveries, now)) report.redelivered++;
            continue;
          }
          this.#end(
            row,
            this.#decodeTask(row.payload),
            now,
            TaskStatus.FAILURE,
            `Task redelivered too many times: its lease expired ${redeliveries} times (maxRedeliveries ${maxRedeliveries})`,
          );
          report.failed++;
        }
        this.#sql.dropFinished.run(now);
        this.#pruneEvents();
        return report;
      });
      if (report.redelivered) this.#wake();
      return report;
    });
  }

  async revoke(id: string): Promise<RevokeOutcome> {
    const outcome = await this.#revoke(id);
    // The worker running it stops it now; the revoke flag #revoke wrote is
    // the fallback its worker reads when it renews the lease.
    if (outcome === "requested") {
      await this.publish({ channel: "control", event: "revoke", data: id });
    }
    return outcome;
  }

  #revoke(id: string): Promise<RevokeOutcome> {
    return this.#async(() =>
      this.#transaction((): RevokeOutcome => {
        const row = this.#sql.byId.get(id) as TaskRow | undefined;
        if (!row) return "unknown";
        if (row.state === "finished") return "finished";
        if (row.state === "running") {
          this.#sql.requestRevoke.run(row.rowid);
          return "requested";
        }
        const now = this.#now();
        this.#end(
          row,
          this.#decodeTask(row.payload),
          now,
          TaskStatus.REVOKED,
          null,
        );
        return "revoked";
      })
    );
  }

  get(id: string): Promise<TaskRecord | undefined> {
    return this.#async(() => {
      const row = this.#sql.byId.get(id) as
        | (TaskRow & { expires_at: number | null })
        | undefined;
      // Past its retention, a task is gone even before reclaim deletes it.
      if (!row || (row.expires_at !== null && row.expires_at < this.#now())) {
        return undefined;
      }
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
      const payload = this.#codec.encode({ data: message.data });
      this.#transaction(() =>
        this.#insertEvent(message.channel, message.event, payload)
      );
    });
  }

  subscribe(
    channel: string,
    listener: MessageListener,
  ): Promise<() => Promise<void>> {
    return this.#async(() => {
      const last = (this.#sql.lastEvent.get() as { seq: number | null }).seq ??
        0;
      // The poll loop runs while anyone listens; it starts from now.
      if (this.#subscribers.size === 0) this.#cursor = last;
      const subscriber: Subscriber = { listener, after: last };
      let subscribers = this.#subscribers.get(channel);
      if (!subscribers) this.#subscribers.set(channel, subscribers = new Set());
      subscribers.add(subscriber);
      this.#schedulePoll();
      return () => {
        const current = this.#subscribers.get(channel);
        current?.delete(subscriber);
        if (current?.size === 0) this.#subscribers.delete(channel);
        if (this.#subscribers.size === 0) this.#stopPoll();
        return Promise.resolve();
      };
    });
  }

  #schedulePoll(): void {
    if (this.#pollTimer !== undefined || this.#closed) return;
    if (this.#subscribers.size === 0) return;
    this.#pollTimer = setTimeout(() => {
      this.#pollTimer = undefined;
      if (this.#closed || this.#subscribers.size === 0) return;
      try {
        this.#deliver();
        // A process that only listens prunes too, now and then.
        if (this.#now() - this.#lastPrune > EVENT_RETENTION_SECONDS / 4) {
          this.#transaction(() => this.#pruneEvents());
        }
      } catch {
        // A busy or broken file: the next poll tries again.
      }
      this.#schedulePoll();
    }, EVENT_POLL_MS);
  }

  #stopPoll(): void {
    clearTimeout(this.#pollTimer);
    this.#pollTimer = undefined;
  }

  /** Delivers the events published since the last poll, in order. */
  #deliver(): void {
    for (;;) {
      const rows = this.#sql.eventsAfter.all(
        this.#cursor,
      ) as unknown[] as EventRow[];
      for (const row of rows) {
        this.#cursor = row.seq;
        const subscribers = this.#subscribers.get(row.channel);
        if (!subscribers) continue;
        let data: unknown;
        try {
          data = (this.#codec.decode(row.payload) as { data: unknown }).data;
        } catch {
          continue; // Written by a process with another serializer.
        }
        const message = { channel: row.channel, event: row.event, data };
        for (const subscriber of [...subscribers]) {
          if (row.seq <= subscriber.after) continue;
          try {
            subscriber.listener(message);
          } catch {
            // One listener's error must not stop delivery to the others.
          }
        }
        if (this.#closed) return;
      }
      if (rows.length < EVENT_PAGE) return;
    }
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
    this.#stopPoll();
    this.#subscribers.clear();
    this.#wake();
    this.#db.close();
    return Promise.resolve();
  }

  /** Closes the store (see {@linkcode SqliteStore.close}). */
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

/** The queue of a task to store; a task without one cannot be queued. */
function queueOf(task: TaskRecord): string {
  if (typeof task.queue !== "string" || task.queue === "") {
    throw new TypeError(
      `Cannot queue task ${task.id} as 'queue' must be a queue name: got ${
        JSON.stringify(task.queue)
      }`,
    );
  }
  return task.queue;
}

/** The task's `meta.maxConcurrency` when it is a whole number > 0. */
function concurrencyLimit(task: TaskRecord): number | null {
  const limit = task.meta.maxConcurrency;
  return typeof limit === "number" && Number.isInteger(limit) && limit > 0
    ? limit
    : null;
}

const JSON_HEAD = new TextEncoder().encode('{"data":');
const JSON_TAIL = new TextEncoder().encode("}");
/** A msgpack map of one entry whose key is the string "data". */
const MSGPACK_HEAD = Uint8Array.of(0x81, 0xa4, 0x64, 0x61, 0x74, 0x61);

/**
 * The encoding of `{ data }` from the encoding of `data`: both codecs allow
 * it, and it saves encoding every record twice (row and event).
 */
function wrapData(codec: Codec, bytes: Uint8Array): Uint8Array {
  const head = codec.name === "json" ? JSON_HEAD : MSGPACK_HEAD;
  const tail = codec.name === "json" ? JSON_TAIL : new Uint8Array(0);
  const out = new Uint8Array(head.length + bytes.length + tail.length);
  out.set(head);
  out.set(bytes, head.length);
  out.set(tail, head.length + bytes.length);
  return out;
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
