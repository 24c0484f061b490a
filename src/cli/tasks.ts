/**
 * `pq tasks [--status S] [--job NAME] [--queue Q] [--since T] [--until T]
 * [--search TEXT] [--limit N] [--cursor C]`: a search of the stored tasks
 * (queued, running, and finished ones kept for `--result-ttl`), newest
 * first, one page at a time.
 *
 * Invariants: every option is checked before the store is asked, and a bad
 * one is a usage error (exit 2) naming the option and the value; the store's
 * own refusal of a query (a cursor of another search) is one too.
 * @module
 */
import { TaskStatus, type TaskStatusCode } from "../model/status.ts";
import {
  SEARCH_LIMIT_DEFAULT,
  SEARCH_LIMIT_MAX,
  type TaskPage,
  type TaskQuery,
} from "../store/store.ts";
import { Task } from "../model/task.ts";
import {
  checkArgs,
  type Command,
  isoTime,
  JSON_FLAG,
  printJson,
  table,
  taskJson,
  UsageError,
} from "./_command.ts";

const STATUS_NAMES = Object.keys(TaskStatus) as Array<keyof typeof TaskStatus>;

/**
 * Reads `--status`: status names (any case), comma-separated or given more
 * than once: `["failure,revoked"]` is `[FAILURE, REVOKED]`.
 */
export function statusesOption(values: readonly string[]): TaskStatusCode[] {
  const codes = new Set<TaskStatusCode>();
  for (const name of values.flatMap((value) => value.split(","))) {
    const key = name.trim().toUpperCase();
    if (!(STATUS_NAMES as string[]).includes(key)) {
      throw new UsageError(
        `Option '--status' must be one or more of ${
          STATUS_NAMES.join(", ")
        } (comma-separated): got '${name.trim()}'`,
      );
    }
    codes.add(TaskStatus[key as keyof typeof TaskStatus]);
  }
  return [...codes];
}

const UNIT_SECONDS: Readonly<Record<string, number>> = {
  s: 1,
  m: 60,
  h: 3600,
  d: 86400,
  w: 7 * 86400,
};

/**
 * Reads `--since`/`--until` as Unix seconds: a duration ago (`90s`, `15m`,
 * `2h`, `1d`, `1w`), Unix seconds (`1714564800`), or an ISO time
 * (`2024-05-01`, `2024-05-01T12:00:00Z`; without a zone: local time).
 */
export function timeOption(flag: string, value: string, now: number): number {
  const text = value.trim();
  const ago = /^(\d+(?:\.\d+)?)([smhdw])$/.exec(text);
  if (ago) return now - Number(ago[1]) * UNIT_SECONDS[ago[2]];
  if (/^\d+(?:\.\d+)?$/.test(text)) return Number(text);
  const ms = /^\d{4}-\d{2}-\d{2}/.test(text) ? Date.parse(text) : NaN;
  if (Number.isFinite(ms)) return ms / 1000;
  throw new UsageError(
    `Option '--${flag}' must be an ISO time (2024-05-01T12:00:00Z), a duration ago (15m, 2h, 1d) or Unix seconds: got '${value}'`,
  );
}

/** Reads `--limit`: a whole number from 1 to SEARCH_LIMIT_MAX. */
function limitOption(value: string): number {
  const text = value.trim();
  const limit = /^\d+$/.test(text) ? Number(text) : NaN;
  if (!(limit >= 1 && limit <= SEARCH_LIMIT_MAX)) {
    throw new UsageError(
      `Option '--limit' must be a whole number from 1 to ${SEARCH_LIMIT_MAX}: got '${value}'`,
    );
  }
  return limit;
}

/** Reads a text option that must not be empty (`--job`, `--queue`...). */
function textOption(flag: string, value: string): string {
  if (value.trim() === "") {
    throw new UsageError(`Option '--${flag}' must not be empty: got ''`);
  }
  return value;
}

/** The search the options ask for. */
export function queryOf(
  values: Record<string, unknown>,
  now: number,
): TaskQuery {
  const text = (flag: string) => values[flag] as string | undefined;
  const query: TaskQuery = {};
  const statuses = values.status as string[] | undefined;
  if (statuses?.length) query.status = statusesOption(statuses);
  if (text("job") !== undefined) query.job = textOption("job", text("job")!);
  if (text("queue") !== undefined) {
    query.queue = textOption("queue", text("queue")!);
  }
  if (text("since") !== undefined) {
    query.since = timeOption("since", text("since")!, now);
  }
  if (text("until") !== undefined) {
    query.until = timeOption("until", text("until")!, now);
  }
  if (text("search") !== undefined) {
    query.text = textOption("search", text("search")!);
  }
  if (text("limit") !== undefined) query.limit = limitOption(text("limit")!);
  if (text("cursor") !== undefined) {
    query.cursor = textOption("cursor", text("cursor")!);
  }
  return query;
}

/** How long a task ran: `0.012 s`, `running 3.2 s`, or `-`. */
function runTime(task: Task, now: number): string {
  if (!task.timeStarted) return "-";
  if (task.timeEnded) {
    return `${(task.timeEnded - task.timeStarted).toFixed(3)} s`;
  }
  return `running ${Math.max(0, now - task.timeStarted).toFixed(1)} s`;
}

/** A page as a table, and the line that says how to get the next one. */
function pageText(page: TaskPage, now: number): string {
  const lines: string[] = [];
  if (page.tasks.length === 0) {
    lines.push("No tasks match in this page");
  } else {
    lines.push(table([
      ["ID", "STATUS", "JOB", "QUEUE", "QUEUED", "RUN"],
      ...page.tasks.map((record) => {
        const task = new Task(record);
        return [
          task.id,
          task.statusString,
          task.name,
          task.queue ?? "-",
          isoTime(task.timeQueued),
          runTime(task, now),
        ];
      }),
    ]));
  }
  if (page.next) {
    lines.push(`More tasks: run again with --cursor ${page.next}`);
  }
  return lines.join("\n");
}

/** `pq tasks`. */
export const tasksCommand: Command = {
  name: "tasks",
  usage: "",
  help: "Search the stored tasks, newest first, one page at a time.",
  details:
    "The stored tasks are the queued, the running, and the finished ones kept for --result-ttl. Each line: id, status, job, queue, time queued, run time; the last line gives the --cursor of the next page when there is one.",
  options: {
    json: JSON_FLAG,
    status: {
      type: "string",
      multiple: true,
      metavar: "<S[,S]>",
      help:
        "Only tasks of these statuses (SUCCESS, FAILURE, REVOKED, RETRY, STARTED, QUEUED; any case, comma-separated or repeated).",
    },
    job: { type: "string", metavar: "<name>", help: "Only tasks of this job." },
    queue: {
      type: "string",
      metavar: "<name>",
      help: "Only tasks of this queue.",
    },
    since: {
      type: "string",
      metavar: "<time>",
      help:
        "Only tasks queued since: an ISO time (2024-05-01T12:00:00Z), a duration ago (15m, 2h, 1d) or Unix seconds.",
    },
    until: {
      type: "string",
      metavar: "<time>",
      help: "Only tasks queued until then (same forms as --since).",
    },
    search: {
      type: "string",
      metavar: "<text>",
      help: "Only tasks with this text in their kwargs or result (any case).",
    },
    limit: {
      type: "string",
      metavar: "<n>",
      help:
        `Tasks a page, 1 to ${SEARCH_LIMIT_MAX}; default ${SEARCH_LIMIT_DEFAULT}.`,
    },
    cursor: {
      type: "string",
      metavar: "<cursor>",
      help: "The next page: the cursor the last page ended with.",
    },
  },
  examples: [
    "pq tasks --status failure --since 1h",
    "pq tasks --job addition --search ada --json",
  ],
  async run({ api, args, values, io }) {
    checkArgs(this, args, 0, 0);
    const now = Date.now() / 1000;
    const query = queryOf(values, now);
    await api.start();
    let page: TaskPage;
    try {
      page = await api.tasks.search(query);
    } catch (error) {
      // The store checks what the command cannot: a cursor's meaning.
      if (error instanceof TypeError) {
        throw new UsageError(`Cannot search tasks: ${error.message}`, {
          cause: error,
        });
      }
      throw error;
    }
    if (values.json) {
      printJson(io, {
        tasks: page.tasks.map((record) => taskJson(new Task(record))),
        next: page.next ?? null,
      });
    } else {
      io.out(pageText(page, now));
    }
    return 0;
  },
};
