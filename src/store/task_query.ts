/**
 * A task search as the stores run it: the checked query, its cursor, and
 * the test a stored record must pass. Every store parses a query here, so
 * a bad one gets the same error from each, naming the field.
 *
 * Order: newest first by `timeQueued`, then by id (descending), so a page
 * ends at a position a cursor can name: the next page holds the tasks
 * strictly after it in that order. The cursor is opaque to callers.
 * @module
 */
import { Buffer } from "node:buffer";
import { TaskStatus, type TaskStatusCode } from "../model/status.ts";
import type { TaskRecord } from "../model/task.ts";
import {
  SEARCH_LIMIT_DEFAULT,
  SEARCH_LIMIT_MAX,
  type TaskQuery,
} from "./store.ts";

/**
 * The most records a search with `text` reads for one page: a text match
 * needs each record decoded, and a page stays fast only if bounded (its
 * cursor goes on from where it stopped).
 */
export const TEXT_SCAN_MAX = 5000;
/** The most characters of a search text. */
const TEXT_MAX = 200;
/** The most characters of a job or queue name in a query. */
const NAME_MAX = 200;

/** Where a page ended: the next page starts strictly after it. */
export interface SearchPosition {
  /** The `timeQueued` of the last task looked at. */
  time: number;
  /** Its id. */
  id: string;
}

/** A checked query. */
export interface SearchFilter {
  /** The statuses wanted, or undefined for any. */
  statuses?: ReadonlySet<TaskStatusCode>;
  job?: string;
  queue?: string;
  since?: number;
  until?: number;
  /** The text wanted, lower-cased. */
  text?: string;
  /** Tasks in a page. */
  limit: number;
  /** Where the page starts (after this position), or undefined at the top. */
  after?: SearchPosition;
}

const STATUS_CODES: ReadonlySet<number> = new Set(Object.values(TaskStatus));

/**
 * Checks a query and returns it as a filter. Throws a `TypeError` naming the
 * field and the value on anything malformed.
 */
export function parseTaskQuery(query: TaskQuery): SearchFilter {
  if (typeof query !== "object" || query === null || Array.isArray(query)) {
    throw new TypeError("A task query must be an object");
  }
  const known = new Set([
    "status",
    "job",
    "queue",
    "since",
    "until",
    "text",
    "limit",
    "cursor",
  ]);
  for (const key of Object.keys(query)) {
    if (!known.has(key)) {
      throw new TypeError(
        `Unknown task query field '${key}': use ${[...known].join(", ")}`,
      );
    }
  }
  const filter: SearchFilter = {
    limit: SEARCH_LIMIT_DEFAULT,
  };
  const { status, job, queue, since, until, text, limit, cursor } = query;
  if (status !== undefined) {
    if (!Array.isArray(status) || status.length === 0) {
      throw new TypeError(
        `Task query 'status' must be a non-empty list of status codes, not ${
          JSON.stringify(status)
        }`,
      );
    }
    for (const code of status) {
      if (!STATUS_CODES.has(code)) {
        throw new TypeError(
          `Task query 'status' has ${
            JSON.stringify(code)
          }, not a status code (${[...STATUS_CODES].join(", ")})`,
        );
      }
    }
    filter.statuses = new Set(status);
  }
  if (job !== undefined) filter.job = nameOf("job", job);
  if (queue !== undefined) filter.queue = nameOf("queue", queue);
  if (since !== undefined) filter.since = timeOf("since", since);
  if (until !== undefined) filter.until = timeOf("until", until);
  if (text !== undefined) {
    if (typeof text !== "string" || text.length < 1 || text.length > TEXT_MAX) {
      throw new TypeError(
        `Task query 'text' must be a string of 1 to ${TEXT_MAX} characters, not ${
          JSON.stringify(text)
        }`,
      );
    }
    filter.text = text.toLowerCase();
  }
  if (limit !== undefined) {
    if (
      !Number.isInteger(limit) || limit < 1 || limit > SEARCH_LIMIT_MAX
    ) {
      throw new TypeError(
        `Task query 'limit' must be an integer from 1 to ${SEARCH_LIMIT_MAX}, not ${
          JSON.stringify(limit)
        }`,
      );
    }
    filter.limit = limit;
  }
  if (cursor !== undefined) filter.after = decodeCursor(cursor);
  return filter;
}

function nameOf(field: string, value: unknown): string {
  if (
    typeof value !== "string" || value.length < 1 || value.length > NAME_MAX
  ) {
    throw new TypeError(
      `Task query '${field}' must be a name of 1 to ${NAME_MAX} characters, not ${
        JSON.stringify(value)
      }`,
    );
  }
  return value;
}

function timeOf(field: string, value: unknown): number {
  if (typeof value !== "number" || !Number.isFinite(value) || value < 0) {
    throw new TypeError(
      `Task query '${field}' must be a time in Unix seconds, not ${
        JSON.stringify(value)
      }`,
    );
  }
  return value;
}

/** The cursor of a page that ended at `position`. */
export function encodeCursor(position: SearchPosition): string {
  return Buffer.from(JSON.stringify([position.time, position.id]))
    .toString("base64url");
}

function decodeCursor(cursor: unknown): SearchPosition {
  const bad = () =>
    new TypeError(
      `Task query 'cursor' ${
        JSON.stringify(cursor)
      } is not a cursor of a page of this search`,
    );
  if (typeof cursor !== "string" || cursor.length > 1000) throw bad();
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, "base64url").toString());
  } catch {
    throw bad();
  }
  if (
    !Array.isArray(parsed) || parsed.length !== 2 ||
    typeof parsed[0] !== "number" || !Number.isFinite(parsed[0]) ||
    typeof parsed[1] !== "string"
  ) throw bad();
  return { time: parsed[0], id: parsed[1] };
}

/** True when `a` comes before `b` in search order (newest first). */
export function comesBefore(a: SearchPosition, b: SearchPosition): boolean {
  return a.time > b.time || (a.time === b.time && a.id > b.id);
}

/** The lower-cased JSON of a record's kwargs and result, as text matches it. */
export function searchText(record: TaskRecord): string {
  return `${jsonOf(record.kwargs)}\n${jsonOf(record.result)}`.toLowerCase();
}

/** JSON of a decoded value; a value JSON cannot write (a BigInt) as text. */
function jsonOf(value: unknown): string {
  try {
    return JSON.stringify(value ?? null);
  } catch {
    return String(value);
  }
}

/** True when a stored record passes every filter of the query. */
export function matchesFilter(
  record: TaskRecord,
  filter: SearchFilter,
): boolean {
  if (filter.statuses && !filter.statuses.has(record.status)) return false;
  if (filter.job !== undefined && record.name !== filter.job) return false;
  if (filter.queue !== undefined && record.queue !== filter.queue) return false;
  if (filter.since !== undefined && record.timeQueued < filter.since) {
    return false;
  }
  if (filter.until !== undefined && record.timeQueued >= filter.until) {
    return false;
  }
  if (
    filter.after &&
    !comesBefore(filter.after, { time: record.timeQueued, id: record.id })
  ) return false;
  if (filter.text !== undefined && !searchText(record).includes(filter.text)) {
    return false;
  }
  return true;
}
