/**
 * Opening the embedded store's file: its pragmas (WAL journal, busy
 * timeout, checkpoints), its schema, and the migration of a file written
 * by an older pq, in one transaction on open, before any statement is
 * prepared. A file of a newer schema is refused, never changed.
 * @module
 */
import { DatabaseSync } from "node:sqlite";
import type { Codec } from "../../model/codec.ts";
import { decodeTask } from "./encoding.ts";
import { isBusy } from "./errors.ts";
import { prepare, type Statements, type TaskRow } from "./statements.ts";

/**
 * Bumped when the schema changes (1 was the skeleton's, without `seq`; 2 had
 * no `time_queued` and `status`, which a file of version 2 gets on open; 3
 * had no `priority`, which files of versions 2 and 3 get on open, 0 for
 * every row, with the claim index that orders by it; 4 had no `rate_limit`,
 * which files of versions 2 to 4 get on open, null for every row; 5 indexed
 * every row five times (claim, lease, slots, search and the id), which
 * files of versions 2 to 5 trade on open for the partial indexes of
 * `SCHEMA`: a queued row is in the claim index only, a running one in the
 * running index only, a finished one in the search and expiry indexes; 6
 * had no `grp` and `group_concurrency`, the group of a task (fair queues,
 * `groups.ts`), which files of versions 2 to 6 get on open, null for every
 * row).
 * A new table needs no bump: `SCHEMA` adds it on every open, and an older
 * pq leaves it alone (`paused_queues`: an older worker does not honour a
 * pause; `status_minutes` and `status_totals`, the status history: an
 * older worker's tasks end uncounted; `schedules`: an older scheduler
 * does not run them).
 */
const SCHEMA_VERSION = 7;
/** Bytes the WAL file is cut back to when it starts over (after a burst). */
const JOURNAL_SIZE_LIMIT = 1024 * 1024;
/**
 * WAL pages (4 KiB) after which a commit checkpoints: SQLite's default is
 * 1000. A checkpoint syncs the WAL and the file (two fsyncs) and copies
 * every page the WAL holds; a busy worker's commits rewrite the same pages
 * (the claim index, the running rows), so ten times fewer checkpoints copy
 * about as many distinct pages and sync ten times less. Measured on a
 * 10,000-task drain (C=100, 404 transactions, 4 alternating runs): the
 * commits took 324-775 ms in all against 737-922 ms at 1000. Idle, reclaim
 * checkpoints anyway.
 */
const WAL_AUTOCHECKPOINT = 10_000;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS tasks (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  queue TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('queued', 'running', 'finished')),
  due_at REAL NOT NULL,
  seq INTEGER NOT NULL,
  time_queued REAL NOT NULL DEFAULT 0,
  status INTEGER NOT NULL DEFAULT 0,
  max_concurrency INTEGER,
  priority INTEGER NOT NULL DEFAULT 0,
  rate_limit TEXT,
  lease_token TEXT,
  lease_until REAL,
  redeliveries INTEGER NOT NULL DEFAULT 0,
  revoke_requested INTEGER NOT NULL DEFAULT 0,
  expires_at REAL,
  payload BLOB NOT NULL,
  grp TEXT,
  group_concurrency INTEGER
);
CREATE INDEX IF NOT EXISTS tasks_claim
  ON tasks (queue, priority DESC, due_at, seq) WHERE state = 'queued';
CREATE INDEX IF NOT EXISTS tasks_running
  ON tasks (name, lease_until) WHERE state = 'running';
CREATE INDEX IF NOT EXISTS tasks_expiry ON tasks (expires_at)
  WHERE expires_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS tasks_search
  ON tasks (time_queued, id) WHERE state = 'finished';
CREATE INDEX IF NOT EXISTS tasks_groups
  ON tasks (queue, grp, priority DESC, due_at, seq)
  WHERE state = 'queued' AND grp IS NOT NULL;
CREATE INDEX IF NOT EXISTS tasks_group_due
  ON tasks (queue, due_at) WHERE state = 'queued' AND grp IS NOT NULL;
CREATE TABLE IF NOT EXISTS group_turns (
  queue TEXT PRIMARY KEY,
  last TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS paused_groups (
  queue TEXT NOT NULL,
  grp TEXT NOT NULL,
  since REAL NOT NULL,
  PRIMARY KEY (queue, grp)
) WITHOUT ROWID;
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
CREATE TABLE IF NOT EXISTS dedupe_keys (
  queue TEXT NOT NULL,
  key TEXT NOT NULL,
  task_id TEXT NOT NULL,
  expires_at REAL NOT NULL,
  PRIMARY KEY (queue, key)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS dedupe_keys_expiry ON dedupe_keys (expires_at);
CREATE TABLE IF NOT EXISTS group_members (
  grp TEXT NOT NULL,
  idx INTEGER NOT NULL,
  value BLOB NOT NULL,
  expires_at REAL NOT NULL,
  PRIMARY KEY (grp, idx)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS group_members_expiry
  ON group_members (expires_at);
CREATE TABLE IF NOT EXISTS workers (
  name TEXT PRIMARY KEY,
  until REAL NOT NULL,
  status BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS rate_starts (
  queue TEXT NOT NULL,
  bucket TEXT NOT NULL,
  at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS rate_starts_window ON rate_starts (queue, bucket, at);
CREATE TABLE IF NOT EXISTS paused_queues (
  queue TEXT PRIMARY KEY,
  since REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS status_minutes (
  minute INTEGER NOT NULL,
  status TEXT NOT NULL,
  count INTEGER NOT NULL,
  PRIMARY KEY (minute, status)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS schedules (
  id TEXT PRIMARY KEY,
  definition BLOB NOT NULL,
  version INTEGER NOT NULL,
  runs INTEGER NOT NULL,
  last_due REAL,
  paused INTEGER NOT NULL,
  since REAL NOT NULL,
  created REAL NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS status_totals (
  status TEXT PRIMARY KEY,
  count INTEGER NOT NULL
) WITHOUT ROWID;
`;

/** An open store file: its connection, statements and WAL file. */
export interface OpenDatabase {
  db: DatabaseSync;
  sql: Statements;
  /** The WAL file, when the store is a file in WAL mode. */
  walPath?: string;
}

/**
 * Opens (and creates) the store's file, or an in-memory database with
 * `:memory:`, brings its schema to this version and prepares its
 * statements; closes it again when any of that fails.
 *
 * @param codec How its records are encoded (a migration reads them).
 */
export function openDatabase(path: string, codec: Codec): OpenDatabase {
  const db = new DatabaseSync(path);
  try {
    // The busy timeout first: the other pragmas may wait for a lock too.
    db.exec("PRAGMA busy_timeout = 5000");
    let walPath: string | undefined;
    if (path !== ":memory:") {
      // Switching a file to WAL takes a lock SQLite does not wait for
      // (no busy handler): processes that open a new file together wait
      // for each other here.
      const { journal_mode: mode } = whileLocked(() =>
        db.prepare("PRAGMA journal_mode = WAL").get()
      ) as { journal_mode: string };
      if (mode === "wal") walPath = `${path}-wal`;
    }
    db.exec("PRAGMA synchronous = NORMAL");
    // A WAL grown by a burst is cut back when it starts over.
    db.exec(`PRAGMA journal_size_limit = ${JOURNAL_SIZE_LIMIT}`);
    db.exec(`PRAGMA wal_autocheckpoint = ${WAL_AUTOCHECKPOINT}`);
    // A transaction of its own: the store's are made of statements
    // prepared once the schema is there.
    db.exec("BEGIN IMMEDIATE");
    try {
      migrate(db, codec);
      db.exec("COMMIT");
    } catch (error) {
      if (db.isTransaction) db.exec("ROLLBACK");
      throw error;
    }
    return { db, sql: prepare(db), walPath };
  } catch (error) {
    db.close();
    throw error;
  }
}

/** Brings the schema of the file to {@linkcode SCHEMA_VERSION}. */
function migrate(db: DatabaseSync, codec: Codec): void {
  const { user_version: version } = db.prepare("PRAGMA user_version")
    .get() as { user_version: number };
  if (version !== 0 && !(version >= 2 && version <= SCHEMA_VERSION)) {
    throw new Error(
      `the file has schema version ${version}, this pq reads version ${SCHEMA_VERSION}`,
    );
  }
  if (version === 2) addSearchColumns(db, codec);
  if (version === 2 || version === 3) addPriorityColumn(db);
  if (version >= 2 && version <= 4) {
    db.exec("ALTER TABLE tasks ADD COLUMN rate_limit TEXT");
  }
  if (version >= 2 && version <= 5) usePartialIndexes(db);
  if (version >= 2 && version <= 6) addGroupColumns(db);
  db.exec(SCHEMA);
  db.exec(`PRAGMA user_version = ${SCHEMA_VERSION}`);
}

/**
 * Upgrades a file of schema version 2: the columns a search filters on,
 * filled from each record (a malformed one keeps 0: found by no status).
 */
function addSearchColumns(db: DatabaseSync, codec: Codec): void {
  db.exec(
    `ALTER TABLE tasks ADD COLUMN time_queued REAL NOT NULL DEFAULT 0;
     ALTER TABLE tasks ADD COLUMN status INTEGER NOT NULL DEFAULT 0;`,
  );
  const fill = db.prepare(
    "UPDATE tasks SET time_queued = ?, status = ? WHERE rowid = ?",
  );
  const rows = db.prepare("SELECT rowid, payload FROM tasks").all();
  for (
    const row of rows as unknown[] as Pick<TaskRow, "rowid" | "payload">[]
  ) {
    const decoded = decodeTask(codec, row.payload);
    if (decoded.ok) {
      fill.run(decoded.record.timeQueued, decoded.record.status, row.rowid);
    }
  }
}

/**
 * Upgrades a file of schema version 2 or 3: the `priority` column (0 for
 * every row: no older pq wrote a priority), and the claim index that
 * orders by it, made again by `SCHEMA`.
 */
function addPriorityColumn(db: DatabaseSync): void {
  db.exec(
    `ALTER TABLE tasks ADD COLUMN priority INTEGER NOT NULL DEFAULT 0;
     DROP INDEX IF EXISTS tasks_claim;`,
  );
}

/**
 * Upgrades a file of schema versions 2 to 5: its indexes over every row
 * go, and `SCHEMA` makes the partial ones (each over the rows of one
 * state) in their place.
 */
function usePartialIndexes(db: DatabaseSync): void {
  db.exec(
    `DROP INDEX IF EXISTS tasks_claim;
     DROP INDEX IF EXISTS tasks_lease;
     DROP INDEX IF EXISTS tasks_slots;
     DROP INDEX IF EXISTS tasks_search;`,
  );
}

/**
 * Upgrades a file of schema versions 2 to 6: the columns of a task's group
 * (null for every row: no older pq wrote one), each unless it is there.
 */
function addGroupColumns(db: DatabaseSync): void {
  const columns = new Set(
    (db.prepare("PRAGMA table_info(tasks)").all() as { name: string }[])
      .map((column) => column.name),
  );
  if (!columns.has("grp")) db.exec("ALTER TABLE tasks ADD COLUMN grp TEXT");
  if (!columns.has("group_concurrency")) {
    db.exec("ALTER TABLE tasks ADD COLUMN group_concurrency INTEGER");
  }
}

/**
 * Runs `work` again while the database is locked (SQLITE_BUSY), for 5 s at
 * most, sleeping 20 ms between tries (synchronously: it is for opening).
 */
function whileLocked<T>(work: () => T): T {
  const deadline = Date.now() + 5000;
  for (;;) {
    try {
      return work();
    } catch (error) {
      if (!isBusy(error) || Date.now() > deadline) throw error;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
    }
  }
}
