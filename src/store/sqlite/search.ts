/**
 * Reading tasks and queues of the embedded store: a task by id, a search
 * (newest first, a page at a time), and the stats of queues. Reads only:
 * no transaction, no write lock.
 *
 * Invariants:
 * - A finished task past its retention is not read, even before reclaim
 *   deletes it.
 * - A search reads each state's rows by that state's index, and at most
 *   `TEXT_SCAN_MAX` rows a page when it filters on text; a page says where
 *   the next one starts.
 * @module
 */
import type { SQLInputValue } from "node:sqlite";
import type { TaskRecord } from "../../model/task.ts";
import type { QueueStats, TaskPage, TaskQuery } from "../store.ts";
import {
  encodeCursor,
  parseTaskQuery,
  type SearchFilter,
  type SearchPosition,
  searchText,
  TEXT_SCAN_MAX,
} from "../task_query.ts";
import type { StoreContext } from "./context.ts";
import { decodeTask } from "./encoding.ts";
import type { TaskRow } from "./statements.ts";

/** A row a search reads. */
interface SearchRow {
  id: string;
  time_queued: number;
  payload: Uint8Array;
}

/** The stored record of a task, or undefined when it is not stored. */
export function readTask(
  ctx: StoreContext,
  id: string,
): TaskRecord | undefined {
  const row = ctx.sql.byId.get(id) as
    | (TaskRow & { expires_at: number | null })
    | undefined;
  // Past its retention, a task is gone even before reclaim deletes it.
  if (!row || (row.expires_at !== null && row.expires_at < ctx.now())) {
    return undefined;
  }
  const decoded = decodeTask(ctx.codec, row.payload);
  if (!decoded.ok) throw new Error(`Task ${id}: ${decoded.reason}`);
  return decoded.record;
}

/** One page of the tasks the query finds, newest first. */
export function searchStoredTasks(
  ctx: StoreContext,
  query: TaskQuery,
): TaskPage {
  const filter = parseTaskQuery(query);
  const { sql, params } = searchSql(filter, ctx.now());
  const statement = ctx.prepared(sql);
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
    const decoded = decodeTask(ctx.codec, row.payload);
    if (!decoded.ok) continue;
    if (
      filter.text !== undefined &&
      !searchText(decoded.record).includes(filter.text)
    ) continue;
    tasks.push(decoded.record);
  }
  return more && last ? { tasks, next: encodeCursor(last) } : { tasks };
}

/** The sizes and latency of each queue of `names`, in that order. */
export function readQueueStats(
  ctx: StoreContext,
  names: readonly string[],
): QueueStats[] {
  const now = ctx.now();
  return names.map((queue): QueueStats => {
    const row = ctx.sql.queueStats.get(now, queue) as {
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
