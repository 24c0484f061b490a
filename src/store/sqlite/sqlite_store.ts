/**
 * The embedded store: one SQLite file (`node:sqlite`), shared safely by the
 * processes of one machine. WAL journal and a busy timeout let several
 * processes write; every state change is one `BEGIN IMMEDIATE` transaction,
 * so a process can die at any line without losing a task. Events go through
 * a table, pruned after a minute.
 *
 * Idle waiting: one loop per store, while anyone in the process listens or
 * waits for tasks, reads `PRAGMA data_version` (it changes when another
 * connection commits; this one's commits are known here), and reads events
 * and due tasks only when it changed. On Linux the loop looks when the WAL
 * file is written (inotify: every commit of another process writes it), and
 * once more an interval later, plus every 5 s in case a change went
 * unseen; elsewhere it looks every {@linkcode POLL_MS}. Idle processes thus
 * wake a few times a second, not a hundred. While commits come (a busy
 * worker's own, or another process's), it looks every {@linkcode POLL_MS}
 * instead of hearing each write of the file, and watches again once a look
 * finds none. Reclaim checkpoints the WAL, so the next commit writes it
 * from its start: an idle file does not grow.
 * @module
 */
import type { DatabaseSync, SQLInputValue, StatementSync } from "node:sqlite";
import { type Codec, codecFor } from "../../model/codec.ts";
import type { WorkerStatus } from "../../model/worker_status.ts";
import { type DedupeOptions, taskPriority } from "../../model/queue_options.ts";
import { RATE_LIMIT_PER_MAX, taskRateLimit } from "../../model/rate_limit.ts";
import { TaskStatus } from "../../model/status.ts";
import {
  standInRecord,
  type TaskProgress,
  type TaskRecord,
} from "../../model/task.ts";
import {
  afterLeaseExpired,
  encodeOutcome,
  endedRecord,
  revokedQueued,
  revokedRunning,
  type StoreEnding,
} from "../_reasons.ts";
import { checkQueueName } from "../_queue_name.ts";
import { checkGroupJoin, checkSettled, memberValue } from "../_settle_join.ts";
import type {
  BeatReport,
  ChannelMessage,
  Claim,
  ClaimRequest,
  Finish,
  Lease,
  MessageListener,
  QueueStats,
  ReclaimReport,
  RevokeOutcome,
  Store,
  StoreOptions,
  TaskPage,
  TaskQuery,
  UniqueOutcome,
} from "../store.ts";
import {
  encodeCursor,
  parseTaskQuery,
  type SearchFilter,
  type SearchPosition,
  searchText,
  TEXT_SCAN_MAX,
} from "../task_query.ts";
import { ChangeLoop } from "./change_loop.ts";
import { StoreContext } from "./context.ts";
import { type Decoded, decodeStatus, decodeTask } from "./encoding.ts";
import { errorMessage, isDuplicateKey } from "./errors.ts";
import { EventLog, PRUNE_EVERY_SECONDS } from "./events.ts";
import type { ChangeLoopStats, LoopControl } from "./loop_control.ts";
import { openDatabase } from "./schema.ts";
import { byPriority, type Statements, type TaskRow } from "./statements.ts";
import { TaskWaiters } from "./task_waiters.ts";

/**
 * A claim candidate; its payload is read with it in the first window of a
 * claim, and only for the tasks taken past that.
 */
type Candidate =
  & Pick<
    TaskRow,
    | "rowid"
    | "id"
    | "name"
    | "max_concurrency"
    | "rate_limit"
    | "redeliveries"
    | "status"
  >
  & { payload?: Uint8Array };

/** One claim's state, while its transaction runs. */
interface ClaimBatch {
  request: ClaimRequest;
  now: number;
  leaseUntil: number;
  claims: Claim[];
  /**
   * Running tasks per job name, for the names that have a limit: counted
   * once, then kept up to date with this batch.
   */
  running: Map<string, number>;
  windows: RateWindows;
}

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
  readonly #ctx: StoreContext;
  readonly #events: EventLog;
  readonly #waiters: TaskWaiters;
  readonly #loop: ChangeLoop;
  readonly #stats: ChangeLoopStats = { looks: 0, reads: 0, fileChanges: 0 };
  /** The WAL file, when the store is a file in WAL mode. */
  readonly #walPath?: string;
  #closed = false;

  private constructor(path: string, options: StoreOptions) {
    this.url = `sqlite:${path}`;
    this.#codec = codecFor(options.serializer);
    this.#now = options.now ?? (() => Date.now() / 1000);
    this.#resultTtl = options.resultTtl;
    const { db, sql, walPath } = openDatabase(path, this.#codec);
    this.#db = db;
    this.#sql = sql;
    this.#walPath = walPath;
    // The event log and the waiters keep the loop running while they need
    // it; the loop, made last, reads them.
    const loop: LoopControl = {
      start: () => this.#loop.start(),
      stopIfIdle: () => this.#loop.stopIfIdle(),
      lookSoon: () => this.#loop.lookSoon(),
    };
    const reads = { sql, now: this.#now, stats: this.#stats, loop };
    this.#events = new EventLog({ ...reads, codec: this.#codec });
    this.#waiters = new TaskWaiters(reads);
    this.#ctx = new StoreContext({
      db,
      sql,
      codec: this.#codec,
      now: this.#now,
      resultTtl: this.#resultTtl,
      events: this.#events,
      waiters: this.#waiters,
    });
    this.#loop = new ChangeLoop({
      url: this.url,
      ctx: this.#ctx,
      walPath,
      stats: this.#stats,
    });
  }

  /**
   * What the change loop of this store did, counted: a snapshot, for tests
   * and diagnostics.
   */
  get changeLoopStats(): Readonly<ChangeLoopStats> {
    return { ...this.#stats };
  }

  /** True when a task of the queue is due (and the queue not paused). */
  #anyDue(queue: string, now: number): boolean {
    let due = false;
    byPriority(this.#sql, queue, (priority) => {
      due = this.#sql.anyDue.get(queue, now, priority) !== undefined;
      return due;
    });
    return due;
  }

  /**
   * Opens (and creates) the store in a file, or in memory with `:memory:`
   * (one process only).
   */
  static open(path: string, options: StoreOptions): Promise<SqliteStore> {
    return Promise.resolve().then(() => new SqliteStore(path, options));
  }

  enqueue(tasks: readonly TaskRecord[]): Promise<void> {
    return this.#async(() => {
      if (tasks.length === 0) return;
      const encoded = tasks.map((task) => this.#encodeQueued(task));
      this.#ctx.transaction(() => {
        tasks.forEach((task, i) => {
          this.#insert(task, encoded[i]);
          this.#ctx.taskEvent("queued", encoded[i]);
        });
      });
      this.#waiters.wakeAll();
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
        taskPriority(task),
        rateLimitColumn(task),
        task.timeQueued,
        task.status,
        payload,
      );
    } catch (error) {
      const duplicate = isDuplicateKey(error);
      throw new Error(
        `Cannot queue task ${task.id}: ${
          duplicate ? "a task with this id exists" : errorMessage(error)
        }`,
        { cause: error },
      );
    }
  }

  /**
   * One transaction: the id's row (a finished one past its retention is
   * deleted: gone, as `get` says), then the dedupe key's holder, then the
   * insert. A duplicate commits nothing and publishes nothing.
   */
  enqueueUnique(
    task: TaskRecord,
    dedupe?: DedupeOptions,
  ): Promise<UniqueOutcome> {
    return this.#async(() => {
      const payload = this.#encodeQueued(task);
      const sql = this.#ctx.unique;
      const outcome = this.#ctx.transaction((): UniqueOutcome => {
        const now = this.#now();
        const there = this.#storedRow(task.id, now);
        if (there) return this.#duplicate(task.id, "id", there);
        if (dedupe) {
          const queue = queueOf(task);
          const held = sql.holder.get(queue, dedupe.key) as
            | { task_id: string; expires_at: number }
            | undefined;
          const holder = held && held.expires_at > now
            ? this.#storedRow(held.task_id, now)
            : undefined;
          if (holder) return this.#duplicate(task.id, "dedupe", holder);
          sql.hold.run(queue, dedupe.key, task.id, now + dedupe.ttl);
        }
        this.#insert(task, payload);
        this.#ctx.taskEvent("queued", payload);
        return { queued: true };
      });
      if (outcome.queued) this.#waiters.wakeAll();
      return outcome;
    });
  }

  /**
   * The row of a stored task (queued, running, or finished and within its
   * retention); a finished row past its retention is deleted.
   */
  #storedRow(id: string, now: number): TaskRow | undefined {
    const row = this.#sql.byId.get(id) as
      | (TaskRow & { expires_at: number | null })
      | undefined;
    if (!row || row.expires_at === null || row.expires_at >= now) return row;
    this.#ctx.unique.dropTask.run(row.rowid);
    return undefined;
  }

  /** The answer of `enqueueUnique` when the task of `row` is there. */
  #duplicate(id: string, reason: "id" | "dedupe", row: TaskRow): UniqueOutcome {
    const decoded = decodeTask(this.#codec, row.payload);
    if (!decoded.ok) {
      throw new Error(
        `Cannot queue task ${id}: task ${row.id} is there (${
          reason === "id" ? "same id" : "it holds the dedupe key"
        }) and its record cannot be read: ${decoded.reason}`,
      );
    }
    return { queued: false, reason, task: decoded.record };
  }

  claim(request: ClaimRequest): Promise<Claim[]> {
    return this.#async(() => {
      if (request.max <= 0) return [];
      const now = this.#now();
      // A read without the write lock first: most claims of an idle worker
      // find nothing, and must not queue behind busy writers.
      if (!request.queues.some((queue) => this.#anyDue(queue, now))) {
        return [];
      }
      return this.#ctx.transaction(() => this.#claim(request, now));
    });
  }

  #claim(request: ClaimRequest, now: number): Claim[] {
    const batch: ClaimBatch = {
      request,
      now,
      leaseUntil: now + request.leaseSeconds,
      claims: [],
      running: new Map(),
      windows: new RateWindows(this.#sql, now),
    };
    for (const queue of request.queues) {
      const wanted = request.max - batch.claims.length;
      if (wanted <= 0) break;
      // The oldest `wanted` due tasks, highest priority first, with their
      // records: each is taken unless its job's limit holds it back.
      const first = this.#candidates(this.#sql.candidates, queue, now, wanted);
      let held = 0;
      for (const row of first) {
        if (batch.claims.length >= request.max) break;
        if (!this.#take(batch, queue, row, row.payload)) held++;
      }
      if (held === 0 || first.length < wanted) continue;
      // Some were held back: a window past them, the records read only for
      // the tasks taken.
      const seen = new Set(first.map((row) => row.rowid));
      const more = this.#candidates(
        this.#sql.moreCandidates,
        queue,
        now,
        wanted * 4 + 100,
      );
      for (const row of more) {
        if (batch.claims.length >= request.max) break;
        if (seen.has(row.rowid)) continue;
        this.#take(batch, queue, row);
      }
    }
    return batch.claims;
  }

  /**
   * Up to `window` due tasks of the queue by `statement`, highest priority
   * first, then the oldest due.
   */
  #candidates(
    statement: StatementSync,
    queue: string,
    now: number,
    window: number,
  ): Candidate[] {
    const rows: Candidate[] = [];
    byPriority(this.#sql, queue, (priority) => {
      const more = statement.all(
        queue,
        now,
        window - rows.length,
        priority,
      ) as unknown[] as Candidate[];
      for (const row of more) rows.push(row);
      return rows.length >= window;
    });
    return rows;
  }

  /**
   * Starts the task of `row` under a new lease, unless its job's
   * concurrency limit or rate limit holds it back (then false; a task over
   * its rate limit waits, as a delayed task, for its slot).
   */
  #take(
    batch: ClaimBatch,
    queue: string,
    row: Candidate,
    payload?: Uint8Array,
  ): boolean {
    const { request, now, running } = batch;
    if (row.max_concurrency !== null) {
      let count = running.get(row.name);
      if (count === undefined) {
        count = (this.#sql.runningOf.get(row.name, now) as { n: number }).n;
        running.set(row.name, count);
      }
      if (count >= row.max_concurrency) return false;
    }
    if (row.rate_limit !== null) {
      const slot = batch.windows.take(queue, row.rate_limit);
      if (slot !== undefined) {
        this.#sql.park.run(slot, row.rowid);
        return false;
      }
    }
    const count = running.get(row.name);
    if (count !== undefined) running.set(row.name, count + 1);
    payload ??= (this.#sql.payload.get(row.rowid) as {
      payload: Uint8Array;
    }).payload;
    // The worker's name first: its leases can be found when it dies.
    const token = `${request.worker}\t${crypto.randomUUID()}`;
    const claim: Claim = {
      id: row.id,
      token,
      redeliveries: row.redeliveries,
      name: row.name,
      queue,
    };
    const decoded = decodeTask(this.#codec, payload);
    let stored = payload;
    let status: number = TaskStatus.STARTED;
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
      this.#ctx.taskEvent("started", stored);
    } else {
      claim.malformed = decoded.reason;
      status = row.status;
    }
    this.#sql.start.run(token, batch.leaseUntil, status, stored, row.rowid);
    batch.claims.push(claim);
    return true;
  }

  waitForTasks(
    queues: readonly string[],
    seconds: number,
    signal?: AbortSignal,
  ): Promise<Claim[]> {
    return this.#waiters.wait(queues, seconds, signal);
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
      this.#ctx.transaction(() => {
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
        ...encodeOutcome(this.#codec, outcome),
        retry: outcome.retry && this.#encodeQueued(outcome.retry),
      }));
      let requeued = false;
      const written = this.#ctx.transaction(() =>
        outcomes.map((outcome, i) => {
          const { task, payload, retry } = encoded[i];
          const changed = this.#sql.finish.run(
            (task.timeEnded ?? now) + this.#resultTtl,
            task.status,
            payload,
            outcome.id,
            outcome.token,
          ).changes;
          if (!changed) return false;
          this.#ctx.taskEvent("done", payload);
          if (outcome.retry && retry) {
            this.#insert(outcome.retry, retry);
            this.#ctx.taskEvent("queued", retry);
            requeued = true;
          }
          return true;
        })
      );
      if (requeued) this.#waiters.wakeAll();
      return written;
    });
  }

  release(leases: readonly Lease[]): Promise<void> {
    return this.#async(() => {
      if (leases.length === 0) return;
      const now = this.#now();
      this.#ctx.transaction(() => {
        for (const { id, token } of leases) {
          const row = this.#sql.leased.get(id, token) as TaskRow | undefined;
          if (row) this.#requeue(row, row.redeliveries, now);
        }
      });
      this.#waiters.wakeAll();
    });
  }

  /**
   * Puts a running row back in its queue as QUEUED, keeping its place. A
   * task whose revoke was requested ends REVOKED instead: it must not run
   * again. Resolves false in that case.
   */
  #requeue(row: TaskRow, redeliveries: number, now: number): boolean {
    const decoded = decodeTask(this.#codec, row.payload);
    if (row.revoke_requested) {
      this.#end(row, decoded, now, revokedRunning(row.id));
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
      this.#ctx.taskEvent("queued", payload);
    }
    this.#sql.requeue.run(
      redeliveries,
      TaskStatus.QUEUED,
      payload,
      row.rowid,
    );
    return true;
  }

  /** Ends a row with a final status and publishes `done`. */
  #end(
    row: TaskRow,
    decoded: Decoded,
    now: number,
    ending: StoreEnding,
  ): void {
    // A malformed record ends as a minimal one, so waiters learn its end.
    const base = decoded.ok ? decoded.record : standInRecord(row, row.due_at);
    const ended = endedRecord(base, ending, now);
    const payload = this.#codec.encode(ended);
    this.#sql.end.run(now + this.#resultTtl, ended.status, payload, row.rowid);
    this.#ctx.taskEvent("done", payload);
  }

  reclaim(maxRedeliveries: number): Promise<ReclaimReport> {
    return this.#async(() => {
      const now = this.#now();
      const report = this.#ctx.transaction(() => {
        const report: ReclaimReport = {
          redelivered: 0,
          failed: 0,
          changed: [],
        };
        const rows = this.#sql.expired.all(now) as unknown[] as TaskRow[];
        for (const row of rows) {
          report.changed.push(row.id);
          const redeliveries = row.redeliveries + 1;
          const ending = afterLeaseExpired(
            row.id,
            redeliveries,
            maxRedeliveries,
            Boolean(row.revoke_requested),
          );
          if (!ending) {
            if (this.#requeue(row, redeliveries, now)) report.redelivered++;
            continue;
          }
          this.#end(row, decodeTask(this.#codec, row.payload), now, ending);
          if (ending.status === TaskStatus.FAILURE) report.failed++;
        }
        this.#sql.dropFinished.run(now);
        this.#ctx.unique.prune.run(now);
        this.#ctx.groups.prune.run(now);
        // Not at every reclaim: each prune that deletes is a commit, and a
        // commit wakes every process.
        if (now - this.#events.lastPrune >= PRUNE_EVERY_SECONDS) {
          // Starts older than the longest window count for no bucket.
          this.#sql.rateExpired.run(now - RATE_LIMIT_PER_MAX);
          this.#events.prune();
        }
        return report;
      });
      if (report.redelivered) this.#waiters.wakeAll();
      this.#checkpoint();
      return report;
    });
  }

  /**
   * Copies the WAL into the file, without waiting for anyone: the next
   * commit then writes the WAL from its start instead of growing it. Left
   * to SQLite alone, an idle store's beats grow it to 4 MB (1000 pages).
   */
  #checkpoint(): void {
    if (this.#walPath === undefined) return;
    try {
      this.#db.exec("PRAGMA wal_checkpoint(PASSIVE)");
    } catch {
      // Busy: the next reclaim tries again.
    }
  }

  /**
   * One transaction: the id's row (a finished one past its retention is
   * deleted, as `enqueueUnique` does), then the row of the record, written
   * as a finished task's (the insert, then the end of `#end`).
   */
  settle(task: TaskRecord): Promise<boolean> {
    return this.#async(() => {
      checkSettled(task);
      const payload = this.#codec.encode(task);
      return this.#ctx.transaction(() => {
        const now = this.#now();
        if (this.#storedRow(task.id, now)) return false;
        this.#insert(task, payload);
        const { rowid } = this.#sql.byId.get(task.id) as { rowid: number };
        this.#sql.end.run(now + this.#resultTtl, task.status, payload, rowid);
        this.#ctx.taskEvent("done", payload);
        return true;
      });
    });
  }

  /**
   * One transaction: the group's rows past their retention go (a group
   * kept no longer starts again), the member's row is added unless its
   * index is there, every row of the group is kept `resultTtl` from now,
   * and the values are read once all members are there.
   */
  joinGroup(
    group: string,
    index: number,
    total: number,
    value: unknown,
  ): Promise<unknown[] | undefined> {
    return this.#async(() => {
      checkGroupJoin(group, index, total);
      const bytes = this.#codec.encode(memberValue(value));
      const sql = this.#ctx.groups;
      const rows = this.#ctx.transaction(() => {
        const now = this.#now();
        const expires = now + this.#resultTtl;
        sql.dropExpired.run(group, now);
        sql.join.run(group, index, bytes, expires);
        sql.keep.run(expires, group);
        const { n } = sql.count.get(group, total) as { n: number };
        if (n < total) return undefined;
        return sql.values.all(group, total) as unknown[] as {
          value: Uint8Array;
        }[];
      });
      return rows?.map((row) => this.#codec.decode(row.value));
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
      this.#ctx.transaction((): RevokeOutcome => {
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
          decodeTask(this.#codec, row.payload),
          now,
          revokedQueued(row.id),
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
      const decoded = decodeTask(this.#codec, row.payload);
      if (!decoded.ok) throw new Error(`Task ${id}: ${decoded.reason}`);
      return decoded.record;
    });
  }

  searchTasks(query: TaskQuery): Promise<TaskPage> {
    return this.#async(() => {
      const filter = parseTaskQuery(query);
      const { sql, params } = searchSql(filter, this.#now());
      const statement = this.#ctx.prepared(sql);
      const tasks: TaskRecord[] = [];
      let looked = 0;
      let last: SearchPosition | undefined;
      let more = false;
      // Rows come in search order, every filter but the text applied by
      // SQLite; a text needs the record decoded, so a page reads at most
      // TEXT_SCAN_MAX rows and says where it stopped.
      for (const row of statement.iterate(...params) as Iterable<SearchRow>) {
        if (tasks.length >= filter.limit || looked >= TEXT_SCAN_MAX) {
          more = true;
          break;
        }
        looked++;
        last = { time: row.time_queued, id: row.id };
        const decoded = decodeTask(this.#codec, row.payload);
        if (!decoded.ok) continue;
        if (
          filter.text !== undefined &&
          !searchText(decoded.record).includes(filter.text)
        ) continue;
        tasks.push(decoded.record);
      }
      return more && last ? { tasks, next: encodeCursor(last) } : { tasks };
    });
  }

  async queueStats(queues?: readonly string[]): Promise<QueueStats[]> {
    const names = queues ?? await this.queueNames();
    return this.#async(() => {
      const now = this.#now();
      return names.map((queue): QueueStats => {
        const row = this.#sql.queueStats.get(now, queue) as {
          ready: number;
          delayed: number;
          running: number;
          oldest: number | null;
        };
        return {
          queue,
          ready: row.ready,
          delayed: row.delayed,
          running: row.running,
          latency: row.oldest === null ? 0 : Math.max(0, now - row.oldest),
        };
      });
    });
  }

  setProgress(lease: Lease, progress: TaskProgress): Promise<boolean> {
    return this.#async(() =>
      this.#ctx.transaction(() => {
        const row = this.#sql.leased.get(lease.id, lease.token) as
          | TaskRow
          | undefined;
        if (!row) return false;
        const decoded = decodeTask(this.#codec, row.payload);
        if (!decoded.ok) return false;
        const payload = this.#codec.encode({ ...decoded.record, progress });
        this.#sql.progress.run(payload, row.rowid);
        this.#ctx.taskEvent("progress", payload);
        return true;
      })
    );
  }

  /**
   * A row in `paused_queues`; the claim's statements skip its queue. Other
   * processes' waiters see the commit (their data version changes) and
   * look again, without the paused queue.
   */
  pauseQueue(queue: string): Promise<boolean> {
    return this.#async(() => {
      checkQueueName(queue, "pause queue");
      const paused = this.#ctx.transaction(() => {
        if (!this.#sql.pause.run(queue, this.#now()).changes) return false;
        this.#events.insert(
          "queue",
          "paused",
          this.#codec.encode({ data: queue }),
        );
        return true;
      });
      // This process's waiters: no timer left for the queue's delayed tasks.
      if (paused) this.#waiters.lookAgain();
      return paused;
    });
  }

  /**
   * Drops the queue's row in `paused_queues`; waiters of this process are
   * woken here, those of other processes by the commit.
   */
  resumeQueue(queue: string): Promise<boolean> {
    return this.#async(() => {
      checkQueueName(queue, "resume queue");
      const resumed = this.#ctx.transaction(() => {
        if (!this.#sql.resume.run(queue).changes) return false;
        this.#events.insert(
          "queue",
          "resumed",
          this.#codec.encode({ data: queue }),
        );
        return true;
      });
      if (resumed) this.#waiters.wakeAll();
      return resumed;
    });
  }

  pausedQueues(): Promise<string[]> {
    return this.#async(() =>
      (this.#sql.pausedQueues.all() as unknown[] as { queue: string }[])
        .map((row) => row.queue)
        .sort()
    );
  }

  sizes(queues: readonly string[]): Promise<number[]> {
    return this.#async(() =>
      queues.map((queue) => (this.#sql.size.get(queue) as { n: number }).n)
    );
  }

  queueNames(): Promise<string[]> {
    return this.#async(() =>
      (this.#sql.queueNames.all() as unknown[] as { queue: string }[])
        .map((row) => row.queue)
        .sort()
    );
  }

  flush(queues: readonly string[]): Promise<number> {
    return this.#async(() =>
      this.#ctx.transaction(() =>
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
      this.#ctx.transaction(() =>
        this.#events.insert(message.channel, message.event, payload)
      );
    });
  }

  subscribe(
    channel: string,
    listener: MessageListener,
  ): Promise<() => Promise<void>> {
    return this.#async(() => this.#events.subscribe(channel, listener));
  }

  beat(status: WorkerStatus): Promise<BeatReport> {
    return this.#async(() =>
      this.#ctx.transaction(() => {
        const now = this.#now();
        const known = this.#sql.workerUntil.get(status.worker) !== undefined;
        this.#sql.beat.run(
          status.worker,
          status.until,
          this.#codec.encode(status),
        );
        const dead: WorkerStatus[] = [];
        for (
          const row of this.#sql.deadWorkers.all(now) as Array<
            { name: string; status: Uint8Array }
          >
        ) {
          this.#sql.forgetWorker.run(row.name);
          const parsed = decodeStatus(this.#codec, row.status);
          if (parsed) dead.push(parsed);
        }
        const { next } = this.#sql.nextUntil.get(status.worker) as {
          next: number | null;
        };
        return { dead, known, ...(next !== null && { next }) };
      })
    );
  }

  expireLeases(worker: string, _queues: readonly string[]): Promise<number> {
    return this.#async(() =>
      this.#ctx.transaction(() =>
        Number(this.#sql.expireLeases.run(`${worker}\t`).changes)
      )
    );
  }

  liveWorkers(): Promise<WorkerStatus[]> {
    return this.#async(() =>
      (this.#sql.liveWorkers.all(this.#now()) as Array<
        { until: number; status: Uint8Array }
      >).flatMap((row) => {
        const status = decodeStatus(this.#codec, row.status);
        return status ? [{ ...status, until: row.until }] : [];
      })
    );
  }

  leave(worker: string): Promise<void> {
    return this.#async(() => {
      this.#ctx.transaction(() => this.#sql.forgetWorker.run(worker));
    });
  }

  acquireLock(name: string, owner: string, seconds: number): Promise<boolean> {
    return this.#async(() =>
      this.#ctx.transaction(() => {
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
    this.#events.close();
    this.#waiters.close();
    const stopped = this.#loop.close();
    this.#db.close();
    return stopped;
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

/** A row a search reads. */
interface SearchRow {
  id: string;
  time_queued: number;
  payload: Uint8Array;
}

/**
 * The query of a search, every filter but the text in SQL, in search order;
 * retained rows past their retention are left out. Each state has its own
 * index, so the query reads three: finished rows in search order by the
 * search index (only those have an entry in it: bulk queueing writes none),
 * queued rows by the claim index and running ones by the running index,
 * sorted (a search reads every live row its filters keep, as the claim
 * index is not in search order), merged by SQLite.
 */
function searchSql(
  filter: SearchFilter,
  now: number,
): { sql: string; params: SQLInputValue[] } {
  const where = ["(expires_at IS NULL OR expires_at >= ?)"];
  const params: SQLInputValue[] = [now];
  if (filter.statuses) {
    where.push(`status IN (${[...filter.statuses].map(() => "?").join()})`);
    params.push(...filter.statuses);
  }
  if (filter.job !== undefined) {
    where.push("name = ?");
    params.push(filter.job);
  }
  if (filter.queue !== undefined) {
    where.push("queue = ?");
    params.push(filter.queue);
  }
  if (filter.since !== undefined) {
    where.push("time_queued >= ?");
    params.push(filter.since);
  }
  if (filter.until !== undefined) {
    where.push("time_queued < ?");
    params.push(filter.until);
  }
  if (filter.after) {
    where.push("(time_queued < ? OR (time_queued = ? AND id < ?))");
    params.push(filter.after.time, filter.after.time, filter.after.id);
  }
  // Without a text, one row past the page tells whether another follows.
  const limit = filter.text === undefined ? filter.limit + 1 : -1;
  const terms = where.join(" AND ");
  const arms = SEARCH_ARMS.map(([index, state]) =>
    `SELECT id, time_queued, payload FROM tasks INDEXED BY ${index}
      WHERE state = '${state}' AND ${terms}`
  );
  return {
    sql: `${arms.join(" UNION ALL ")}
      ORDER BY time_queued DESC, id DESC LIMIT ${limit}`,
    params: SEARCH_ARMS.flatMap(() => params),
  };
}

/** The index of each state's rows, which a search reads. */
const SEARCH_ARMS = [
  ["tasks_search", "finished"],
  ["tasks_claim", "queued"],
  ["tasks_running", "running"],
] as const;

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

/**
 * The `rate_limit` column of a task: `<tasks>\t<per>\t<bucket>`, or null
 * when it has no limit (see `rate_limit.ts`).
 */
function rateLimitColumn(task: TaskRecord): string | null {
  const limit = taskRateLimit(task);
  return limit ? `${limit.tasks}\t${limit.per}\t${limit.bucket}` : null;
}

/**
 * The rate limit windows of one claim: the starts of each bucket in the
 * last `per` seconds, read once a claim. A start is taken while a bucket
 * has fewer than `tasks`; past that, the n-th task held back in the claim
 * is given the time its slot opens: the (n mod tasks)-th oldest start plus
 * `per` (plus `per` for each full round of held tasks), so the tasks held
 * back wait in order and come back one a slot, not all at once.
 */
class RateWindows {
  readonly #buckets = new Map<string, { count: number; held: number }>();
  constructor(
    readonly sql: Statements,
    readonly now: number,
  ) {}

  /** Takes a start (undefined), or says when the task's slot opens. */
  take(queue: string, column: string): number | undefined {
    const [tasks, per, bucket] = column.split("\t", 3);
    const limit = Number(tasks), window = Number(per);
    const name = `${queue}\n${bucket}`;
    let state = this.#buckets.get(name);
    if (!state) {
      this.sql.rateForget.run(queue, bucket, this.now - window);
      const { n } = this.sql.rateCount.get(queue, bucket) as { n: number };
      state = { count: n, held: 0 };
      this.#buckets.set(name, state);
    }
    if (state.count < limit) {
      state.count++;
      this.sql.rateStart.run(queue, bucket, this.now);
      return undefined;
    }
    const held = state.held++;
    const { at } = this.sql.rateNth.get(queue, bucket, held % limit) as {
      at: number;
    };
    return at + window * (Math.floor(held / limit) + 1);
  }
}

/** The task's `meta.maxConcurrency` when it is a whole number > 0. */
function concurrencyLimit(task: TaskRecord): number | null {
  const limit = task.meta.maxConcurrency;
  return typeof limit === "number" && Number.isInteger(limit) && limit > 0
    ? limit
    : null;
}
