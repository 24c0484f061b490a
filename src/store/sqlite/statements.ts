/**
 * The statements of the embedded store, prepared once per store, and the
 * rows they read. Every statement of a hot path is here, written for the
 * partial index of the rows it reads (see `schema.ts`): a queued row is in
 * the claim index only, a running one in the running index only, a
 * finished one in the search and expiry indexes. The statements of rarer
 * calls (`enqueueUnique`, `joinGroup`) are prepared on first use.
 * @module
 */
import type { DatabaseSync, StatementSync } from "node:sqlite";

/** Events read in one query of the change loop. */
export const EVENT_PAGE = 1000;

/** The columns of a task row that transitions need. */
export interface TaskRow {
  rowid: number;
  id: string;
  name: string;
  queue: string;
  state: "queued" | "running" | "finished";
  due_at: number;
  max_concurrency: number | null;
  rate_limit: string | null;
  redeliveries: number;
  revoke_requested: number;
  status: number;
  payload: Uint8Array;
}

/** The SQL term of a statement whose `?1` is a queue: it is not paused. */
const NOT_PAUSED =
  "NOT EXISTS (SELECT 1 FROM paused_queues WHERE paused_queues.queue = ?1)";

/**
 * Fair queues (`groups.ts`): the queued row of a task of a group has the
 * priority GROUP_BAND + its priority, below every priority a task may have,
 * so the statements that go from priority to priority by `priorityBelow`
 * (the claim of tasks without a group) never reach it; the rows of groups
 * are read by their own indexes (`tasks_groups`, `tasks_group_due`).
 */
export const GROUP_BAND = -1_000_000;

/** The columns of {@linkcode TaskRow}. */
const ROW_COLUMNS =
  "rowid, id, name, queue, state, due_at, max_concurrency, rate_limit, redeliveries, revoke_requested, status, payload";

/** The statements, prepared once. */
export function prepare(db: DatabaseSync) {
  const sql = (text: string) => db.prepare(text);
  return {
    // Prepared, not `exec`ed: the errors of a statement carry SQLite's code
    // (see `errors.ts`), so a busy file is told apart.
    begin: sql(`BEGIN IMMEDIATE`),
    commit: sql(`COMMIT`),
    rollback: sql(`ROLLBACK`),
    // seq above every row: FIFO among tasks due at the same time.
    insert: sql(
      `INSERT INTO tasks
       (id, name, queue, state, due_at, seq, max_concurrency, priority,
       rate_limit, time_queued, status, payload)
       VALUES (?, ?, ?, 'queued', ?,
       coalesce((SELECT max(rowid) FROM tasks), 0) + 1, ?, ?, ?, ?, ?, ?)`,
    ),
    // The claim index is ordered by priority, then due time: the statements
    // below go one priority at a time (the queued ones come from
    // `priorityBelow`, one step of the index each), so each is a range of
    // the index that stops at its LIMIT, or at the first task not due yet.
    // A queue without priorities has one: 0.
    priorityBelow: sql(
      `SELECT max(priority) AS priority FROM tasks
       WHERE queue = ?1 AND state = 'queued' AND priority < ?2
       AND priority > ${GROUP_BAND / 2}`,
    ),
    // A paused queue has no candidate, nothing due and no next due task:
    // its term is looked up once a statement, and only when the queue has
    // a row to give (SQLite runs the subquery once, at the first row).
    candidates: sql(
      `SELECT rowid, id, name, max_concurrency, rate_limit, redeliveries,
       status, payload FROM tasks
       WHERE queue = ?1 AND state = 'queued' AND priority = ?4
       AND due_at <= ?2 AND ${NOT_PAUSED} ORDER BY due_at, seq LIMIT ?3`,
    ),
    // The same, without the payloads: a window past tasks held back.
    moreCandidates: sql(
      `SELECT rowid, id, name, max_concurrency, rate_limit, redeliveries, status
       FROM tasks
       WHERE queue = ?1 AND state = 'queued' AND priority = ?4
       AND due_at <= ?2 AND ${NOT_PAUSED} ORDER BY due_at, seq LIMIT ?3`,
    ),
    anyDue: sql(
      `SELECT 1 AS due FROM tasks WHERE queue = ?1 AND state = 'queued'
       AND priority = ?3 AND due_at <= ?2 AND ${NOT_PAUSED} LIMIT 1`,
    ),
    nextDue: sql(
      `SELECT min(due_at) AS due FROM tasks WHERE queue = ?1
       AND state = 'queued' AND priority = ?2 AND ${NOT_PAUSED}`,
    ),
    // The starts of a rate limit bucket in its window (see `claim.ts`).
    rateForget: sql(
      `DELETE FROM rate_starts WHERE queue = ? AND bucket = ? AND at <= ?`,
    ),
    rateCount: sql(
      `SELECT count(*) AS n FROM rate_starts WHERE queue = ? AND bucket = ?`,
    ),
    rateStart: sql(
      `INSERT INTO rate_starts (queue, bucket, at) VALUES (?, ?, ?)`,
    ),
    rateNth: sql(
      `SELECT at FROM rate_starts WHERE queue = ? AND bucket = ?
       ORDER BY at LIMIT 1 OFFSET ?`,
    ),
    rateExpired: sql(`DELETE FROM rate_starts WHERE at <= ?`),
    park: sql(`UPDATE tasks SET due_at = ? WHERE rowid = ?`),
    dataVersion: sql(`PRAGMA data_version`),
    // Copies the WAL into the file without waiting for anyone (see
    // `recovery.ts`).
    checkpoint: sql(`PRAGMA wal_checkpoint(PASSIVE)`),
    payload: sql(`SELECT payload FROM tasks WHERE rowid = ?`),
    runningOf: sql(
      `SELECT count(*) AS n FROM tasks
       WHERE name = ? AND state = 'running' AND lease_until > ?`,
    ),
    start: sql(
      `UPDATE tasks SET state = 'running', lease_token = ?, lease_until = ?,
       status = ?, payload = ? WHERE rowid = ?`,
    ),
    renew: sql(
      `UPDATE tasks SET lease_until = ?
       WHERE id = ? AND state = 'running' AND lease_token = ?
       RETURNING revoke_requested`,
    ),
    finish: sql(
      `UPDATE tasks SET state = 'finished', lease_token = NULL,
       lease_until = NULL, expires_at = ?, status = ?, payload = ?
       WHERE id = ? AND state = 'running' AND lease_token = ?`,
    ),
    leased: sql(
      `SELECT ${ROW_COLUMNS} FROM tasks
       WHERE id = ? AND state = 'running' AND lease_token = ?`,
    ),
    // The running rows whose lease ended before ?1, of the queue ?2 (of
    // every queue when it is null), by the running index.
    expired: sql(
      `SELECT ${ROW_COLUMNS} FROM tasks
       WHERE state = 'running' AND lease_until < ?1
       AND (?2 IS NULL OR queue = ?2)`,
    ),
    requeue: sql(
      `UPDATE tasks SET state = 'queued', lease_token = NULL,
       lease_until = NULL, redeliveries = ?, status = ?, payload = ?
       WHERE rowid = ?`,
    ),
    end: sql(
      `UPDATE tasks SET state = 'finished', lease_token = NULL,
       lease_until = NULL, expires_at = ?, status = ?, payload = ?
       WHERE rowid = ?`,
    ),
    // By the expiry index: finished rows only have an `expires_at`.
    dropFinished: sql(`DELETE FROM tasks WHERE expires_at < ?`),
    byId: sql(`SELECT ${ROW_COLUMNS}, expires_at FROM tasks WHERE id = ?`),
    requestRevoke: sql(
      `UPDATE tasks SET revoke_requested = 1 WHERE rowid = ?`,
    ),
    // The queue's queued rows by the claim index, its running ones by the
    // running index (a few: the tasks running now, of every queue).
    queueStats: sql(
      `SELECT coalesce(sum(due_at <= ?1), 0) AS ready,
       coalesce(sum(due_at > ?1), 0) AS delayed,
       (SELECT count(*) FROM tasks INDEXED BY tasks_running
       WHERE state = 'running' AND queue = ?2) AS running,
       min(CASE WHEN due_at <= ?1 THEN due_at END) AS oldest
       FROM tasks INDEXED BY tasks_claim
       WHERE queue = ?2 AND state = 'queued'`,
    ),
    progress: sql(`UPDATE tasks SET payload = ? WHERE rowid = ?`),
    // The queued and running rows by their partial indexes: finished rows,
    // most of the table, are not read.
    queueNames: sql(
      `SELECT queue FROM tasks INDEXED BY tasks_claim WHERE state = 'queued'
       UNION SELECT queue FROM tasks INDEXED BY tasks_running
       WHERE state = 'running'`,
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
    beat: sql(
      `INSERT INTO workers (name, until, status) VALUES (?, ?, ?)
       ON CONFLICT (name) DO UPDATE SET until = excluded.until,
       status = excluded.status`,
    ),
    deadWorkers: sql(`SELECT name, status FROM workers WHERE until < ?`),
    workerUntil: sql(`SELECT until FROM workers WHERE name = ?`),
    nextUntil: sql(
      `SELECT min(until) AS next FROM workers WHERE name <> ?`,
    ),
    liveWorkers: sql(
      `SELECT until, status FROM workers WHERE until >= ? ORDER BY name`,
    ),
    forgetWorker: sql(`DELETE FROM workers WHERE name = ?`),
    // A lease token starts with its worker's name and a tab: ?1. The
    // leases of the queue ?2 only.
    expireLeases: sql(
      `UPDATE tasks SET lease_until = 0 WHERE state = 'running'
       AND substr(lease_token, 1, length(?1)) = ?1 AND queue = ?2`,
    ),
    pause: sql(
      `INSERT INTO paused_queues (queue, since) VALUES (?, ?)
       ON CONFLICT (queue) DO NOTHING`,
    ),
    resume: sql(`DELETE FROM paused_queues WHERE queue = ?`),
    pausedQueues: sql(`SELECT queue FROM paused_queues`),
    // The status history (`status_counts.ts`): a transaction adds its
    // counts once a status, whatever the number of tasks.
    countMinute: sql(
      `INSERT INTO status_minutes (minute, status, count) VALUES (?, ?, ?)
       ON CONFLICT (minute, status) DO UPDATE SET count = count + excluded.count`,
    ),
    countTotal: sql(
      `INSERT INTO status_totals (status, count) VALUES (?, ?)
       ON CONFLICT (status) DO UPDATE SET count = count + excluded.count`,
    ),
    minutesSince: sql(
      `SELECT minute, status, count FROM status_minutes WHERE minute >= ?`,
    ),
    totals: sql(`SELECT status, count FROM status_totals`),
    pruneMinutes: sql(`DELETE FROM status_minutes WHERE minute < ?`),
    // Fair queues (`groups.ts`; GROUP_BAND): the rows of groups.
    insertGrouped: sql(
      `INSERT INTO tasks
       (id, name, queue, state, due_at, seq, max_concurrency, priority,
       rate_limit, time_queued, status, payload, grp, group_concurrency)
       VALUES (?, ?, ?, 'queued', ?,
       coalesce((SELECT max(rowid) FROM tasks), 0) + 1, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    groupAny: sql(
      `SELECT 1 AS found FROM tasks INDEXED BY tasks_group_due
       WHERE queue = ?1 AND state = 'queued' AND grp IS NOT NULL LIMIT 1`,
    ),
    // The first due task of a group that is not paused, in a queue that is
    // not: when a waiting worker looks again.
    groupNextDue: sql(
      `SELECT due_at AS due FROM tasks INDEXED BY tasks_group_due
       WHERE queue = ?1 AND state = 'queued' AND grp IS NOT NULL
       AND grp NOT IN (SELECT grp FROM paused_groups WHERE queue = ?1)
       AND ${NOT_PAUSED} ORDER BY due_at LIMIT 1`,
    ),
    nextGroup: sql(
      `SELECT min(grp) AS grp FROM tasks INDEXED BY tasks_groups
       WHERE queue = ?1 AND state = 'queued' AND grp IS NOT NULL
       AND grp > ?2`,
    ),
    groupCandidates: sql(
      `SELECT rowid, id, name, max_concurrency, rate_limit, redeliveries,
       status, group_concurrency FROM tasks INDEXED BY tasks_groups
       WHERE queue = ?1 AND grp = ?2 AND state = 'queued' AND grp IS NOT NULL
       AND due_at <= ?3 AND ${NOT_PAUSED}
       ORDER BY priority DESC, due_at, seq LIMIT ?4`,
    ),
    groupRunning: sql(
      `SELECT count(*) AS n FROM tasks INDEXED BY tasks_running
       WHERE state = 'running' AND queue = ? AND grp = ? AND lease_until > ?`,
    ),
    groupTurn: sql(`SELECT last FROM group_turns WHERE queue = ?`),
    setGroupTurn: sql(
      `INSERT INTO group_turns (queue, last) VALUES (?, ?)
       ON CONFLICT (queue) DO UPDATE SET last = excluded.last`,
    ),
    pausedGroupsOf: sql(`SELECT grp FROM paused_groups WHERE queue = ?`),
    pauseGroup: sql(
      `INSERT INTO paused_groups (queue, grp, since) VALUES (?, ?, ?)
       ON CONFLICT (queue, grp) DO NOTHING`,
    ),
    resumeGroup: sql(`DELETE FROM paused_groups WHERE queue = ? AND grp = ?`),
    groupReady: sql(
      `SELECT grp, count(*) AS n FROM tasks INDEXED BY tasks_groups
       WHERE queue = ?1 AND state = 'queued' AND grp IS NOT NULL
       AND due_at <= ?2 GROUP BY grp`,
    ),
    groupRunningAll: sql(
      `SELECT grp, count(*) AS n FROM tasks INDEXED BY tasks_running
       WHERE state = 'running' AND queue = ? AND grp IS NOT NULL GROUP BY grp`,
    ),
    dropTask: sql(`DELETE FROM tasks WHERE rowid = ?`),
  } satisfies Record<string, StatementSync>;
}

/** The statements of a store, prepared once. */
export type Statements = ReturnType<typeof prepare>;

/**
 * Calls `look` with each priority of the queue's queued tasks, highest
 * first (one step of the claim index each), until it returns true.
 */
export function byPriority(
  sql: Statements,
  queue: string,
  look: (priority: number) => boolean,
): void {
  let below = Number.MAX_SAFE_INTEGER;
  for (;;) {
    const { priority } = sql.priorityBelow.get(queue, below) as {
      priority: number | null;
    };
    if (priority === null || look(priority)) return;
    below = priority;
  }
}

/**
 * The statements of `enqueueUnique` (and of pruning its keys), prepared
 * when first needed: a store that never sees a caller's id or a dedupe key
 * prepares none of them.
 */
export function prepareUnique(db: DatabaseSync) {
  const sql = (text: string) => db.prepare(text);
  return {
    dropTask: sql(`DELETE FROM tasks WHERE rowid = ?`),
    holder: sql(
      `SELECT task_id, expires_at FROM dedupe_keys WHERE queue = ? AND key = ?`,
    ),
    hold: sql(
      `INSERT OR REPLACE INTO dedupe_keys (queue, key, task_id, expires_at)
       VALUES (?, ?, ?, ?)`,
    ),
    prune: sql(`DELETE FROM dedupe_keys WHERE expires_at <= ?`),
  } satisfies Record<string, StatementSync>;
}

/**
 * The statements of `joinGroup` (and of pruning its groups), prepared when
 * first needed. The rows of a group share one `expires_at`, moved on by
 * every join: a group is kept `resultTtl` after its last record.
 */
export function prepareGroups(db: DatabaseSync) {
  const sql = (text: string) => db.prepare(text);
  return {
    dropExpired: sql(
      `DELETE FROM group_members WHERE grp = ? AND expires_at < ?`,
    ),
    join: sql(
      `INSERT OR IGNORE INTO group_members (grp, idx, value, expires_at)
       VALUES (?, ?, ?, ?)`,
    ),
    keep: sql(`UPDATE group_members SET expires_at = ? WHERE grp = ?`),
    // Members of this total only: a caller that gave another total before
    // does not make a group look complete.
    count: sql(
      `SELECT count(*) AS n FROM group_members WHERE grp = ? AND idx < ?`,
    ),
    values: sql(
      `SELECT value FROM group_members WHERE grp = ? AND idx < ?
       ORDER BY idx`,
    ),
    prune: sql(`DELETE FROM group_members WHERE expires_at < ?`),
  } satisfies Record<string, StatementSync>;
}

/** The statements of `enqueueUnique`. */
export type UniqueStatements = ReturnType<typeof prepareUnique>;
/** The statements of `joinGroup`. */
export type GroupStatements = ReturnType<typeof prepareGroups>;
