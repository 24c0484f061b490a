/**
 * `pq schedules [add|show|pause|resume|remove ...]`: the schedules managed
 * at run time (`api.schedules`), kept in the store and run by the
 * scheduler leader of the servers started with `--schedule-periodic`.
 * Without a subcommand, lists them.
 * @module
 */
import type { ScheduleInfo, ScheduleInput } from "../model/schedule.ts";
import {
  checkArgs,
  type Command,
  type CommandContext,
  isoTime,
  JSON_FLAG,
  printJson,
  table,
  UsageError,
} from "./_command.ts";
import { parseKwargs } from "./queue.ts";

const SUBCOMMANDS = ["add", "show", "pause", "resume", "remove"] as const;

/** The flags `add` alone takes. */
const ADD_FLAGS = ["every", "cron", "tz", "queue", "start", "end", "limit"];

/** How a schedule's timing reads: `every 60 s`, `cron "30 2 * * *" Europe/Berlin`. */
function timing(info: ScheduleInfo): string {
  return info.cron !== undefined
    ? `cron "${info.cron}" ${info.timezone}`
    : `every ${info.every} s`;
}

/** Its state in one word: `ended`, `paused` or `active`. */
function stateOf(info: ScheduleInfo): string {
  return info.ended ? "ended" : info.paused ? "paused" : "active";
}

/** A number flag's value, checked: a finite number. */
function numberFlag(name: string, value: unknown): number | undefined {
  if (value === undefined) return undefined;
  const number = Number(value);
  if (typeof value !== "string" || value.trim() === "" || !isFinite(number)) {
    throw new UsageError(
      `Option --${name} needs a number: got '${String(value)}'`,
    );
  }
  return number;
}

/** A time flag's value: an ISO 8601 time, or Unix seconds (checked by the API). */
function timeFlag(value: unknown): string | number | undefined {
  if (value === undefined) return undefined;
  const text = String(value);
  return /^\d+(\.\d+)?$/.test(text) ? Number(text) : text;
}

/** `pq schedules`. */
export const schedulesCommand: Command = {
  name: "schedules",
  usage: "[add|show|pause|resume|remove <id> ...]",
  help:
    "List, add, show, pause, resume or remove the schedules managed at run time.",
  details:
    "Schedules are kept in the store and run by the scheduler leader of the servers started with --schedule-periodic: each due time is queued once across them, as a task of id schedule:<id>:<due time in ms>. " +
    "`pq schedules` lists them with their next run; `add <id> <job> [key=value ...]` creates or replaces one (its runs so far are kept) with --every <seconds> or --cron <expression> (5 to 7 fields, in --tz, default UTC); each key=value is a keyword argument of the job, JSON when it parses. " +
    "`show` prints one with its next run times (--count, default 5). A due time missed for longer than two leader leases is skipped, and only the latest one missed is queued (no catch-up).",
  options: {
    json: JSON_FLAG,
    every: {
      type: "string",
      metavar: "<seconds>",
      help: "add: seconds between runs (instead of --cron).",
    },
    cron: {
      type: "string",
      metavar: "<expression>",
      help: 'add: a cron expression, e.g. "30 2 * * *" (instead of --every).',
    },
    tz: {
      type: "string",
      metavar: "<zone>",
      help: "add: the IANA time zone of --cron (default UTC).",
    },
    queue: {
      type: "string",
      metavar: "<name>",
      help: "add: the queue of each run (default: the job's).",
    },
    start: {
      type: "string",
      metavar: "<time>",
      help: "add: no run before this time (ISO 8601 or Unix seconds).",
    },
    end: {
      type: "string",
      metavar: "<time>",
      help: "add: no run after this time (ISO 8601 or Unix seconds).",
    },
    limit: {
      type: "string",
      metavar: "<runs>",
      help: "add: the most runs; then the schedule has ended.",
    },
    count: {
      type: "string",
      metavar: "<n>",
      help: "show: how many next run times to print (default 5, at most 100).",
    },
  },
  examples: [
    "pq schedules",
    'pq schedules add nightly report --cron "30 2 * * *" --tz Europe/Berlin',
    "pq schedules add sync sync full=false --every 600 --limit 10",
    "pq schedules show nightly --count 10",
    "pq schedules pause nightly",
    "pq schedules remove nightly --json",
  ],
  async run(context) {
    const { args, values } = context;
    const [sub = "list", ...rest] = args;
    if (sub !== "list" && !(SUBCOMMANDS as readonly string[]).includes(sub)) {
      throw new UsageError(
        `Unknown subcommand '${sub}' of schedules: use one of ${
          SUBCOMMANDS.join(", ")
        }, or none to list them`,
      );
    }
    const misplaced = ADD_FLAGS.find((flag) => values[flag] !== undefined);
    if (sub !== "add" && misplaced) {
      throw new UsageError(
        `Option --${misplaced} is for 'pq schedules add': it does not apply to ${
          sub === "list" ? "the list" : `'${sub}'`
        }`,
      );
    }
    if (sub !== "show" && values.count !== undefined) {
      throw new UsageError(
        "Option --count is for 'pq schedules show <id>'",
      );
    }
    try {
      if (sub === "list") return await list(context, rest);
      if (sub === "add") return await add(context, rest);
      if (sub === "show") return await show(context, rest);
      return await change(context, sub, rest);
    } catch (error) {
      // What the API refuses is bad usage, as a bad key=value.
      // An unknown schedule to pause or resume is not (exit 1).
      throw error instanceof TypeError ||
          (error instanceof RangeError && sub === "add")
        ? new UsageError((error as Error).message, { cause: error })
        : error;
    }
  },
};

/** `pq schedules`: one line a schedule. */
async function list(
  { api, values, io }: CommandContext,
  rest: string[],
): Promise<number> {
  if (rest.length > 0) {
    throw new UsageError(
      `Command 'schedules' takes a subcommand (${
        SUBCOMMANDS.join(", ")
      }) or nothing: got '${rest.join(" ")}'`,
    );
  }
  const schedules = await api.schedules.list({ count: 1 });
  if (values.json) {
    printJson(io, schedules);
    return 0;
  }
  if (schedules.length === 0) {
    io.out("No schedules (pq schedules add <id> <job> --every <seconds>)");
    return 0;
  }
  io.out(table([
    ["ID", "JOB", "SCHEDULE", "STATE", "RUNS", "NEXT RUN"],
    ...schedules.map((info) => [
      info.id,
      info.job,
      timing(info),
      stateOf(info),
      info.limit === undefined
        ? String(info.runs)
        : `${info.runs}/${info.limit}`,
      info.ended ? "-" : isoTime(info.nextRuns[0]),
    ]),
  ]));
  return 0;
}

/** `pq schedules add <id> <job> [key=value ...]`. */
async function add(
  { api, values, io }: CommandContext,
  rest: string[],
): Promise<number> {
  checkArgs(
    { name: "schedules add", usage: "<id> <job> [key=value ...]" },
    rest,
    2,
    Infinity,
  );
  const [id, job, ...pairs] = rest;
  const every = numberFlag("every", values.every);
  const limit = numberFlag("limit", values.limit);
  const start = timeFlag(values.start);
  const end = timeFlag(values.end);
  const input: ScheduleInput = {
    id,
    job,
    kwargs: parseKwargs(pairs),
    ...(every !== undefined && { every }),
    ...(values.cron !== undefined && { cron: values.cron as string }),
    ...(values.tz !== undefined && { timezone: values.tz as string }),
    ...(values.queue !== undefined &&
      { options: { queue: values.queue as string } }),
    ...(start !== undefined && { start }),
    ...(end !== undefined && { end }),
    ...(limit !== undefined && { limit }),
  };
  const existed = await api.schedules.get(id) !== undefined;
  const info = await api.schedules.upsert(input);
  if (values.json) {
    printJson(io, { ...info, created: !existed });
    return 0;
  }
  io.out(
    `${existed ? "Replaced" : "Added"} schedule ${id}: ${info.job} ${
      timing(info)
    }, next run ${info.ended ? "none" : isoTime(info.nextRuns[0])}`,
  );
  return 0;
}

/** `pq schedules show <id>`. */
async function show(
  { api, values, io }: CommandContext,
  rest: string[],
): Promise<number> {
  checkArgs({ name: "schedules show", usage: "<id>" }, rest, 1, 1);
  const count = values.count === undefined
    ? 5
    : numberFlag("count", values.count);
  const info = await api.schedules.get(rest[0], { count });
  if (!info) {
    io.err(`pq: no schedule '${rest[0]}' (pq schedules lists them)`);
    return 1;
  }
  if (values.json) {
    printJson(io, info);
    return 0;
  }
  const lines: string[][] = [
    ["id", info.id],
    ["job", info.job],
    ["kwargs", JSON.stringify(info.kwargs)],
    ["schedule", timing(info)],
    ["state", stateOf(info)],
    [
      "runs",
      info.limit === undefined
        ? String(info.runs)
        : `${info.runs} of ${info.limit}`,
    ],
    ["last run", isoTime(info.lastRun)],
  ];
  if (Object.keys(info.options).length > 0) {
    lines.push(["options", JSON.stringify(info.options)]);
  }
  if (info.start !== undefined) lines.push(["start", isoTime(info.start)]);
  if (info.end !== undefined) lines.push(["end", isoTime(info.end)]);
  lines.push([
    "next runs",
    info.nextRuns.length ? info.nextRuns.map(isoTime).join(", ") : "none",
  ]);
  io.out(table(lines.map(([key, value]) => [`${key}:`, value])));
  return 0;
}

/** `pq schedules pause|resume|remove <id>`. */
async function change(
  { api, values, io }: CommandContext,
  sub: string,
  rest: string[],
): Promise<number> {
  checkArgs({ name: `schedules ${sub}`, usage: "<id>" }, rest, 1, 1);
  const [id] = rest;
  if (sub === "remove") {
    const removed = await api.schedules.remove(id);
    if (values.json) printJson(io, { id, removed });
    else {
      io.out(
        removed
          ? `Removed schedule ${id}`
          : `No schedule ${id}: nothing removed`,
      );
    }
    return removed ? 0 : 1;
  }
  const changed = sub === "pause"
    ? await api.schedules.pause(id)
    : await api.schedules.resume(id);
  if (values.json) printJson(io, { id, changed });
  else if (sub === "pause") {
    io.out(
      changed
        ? `Paused schedule ${id}: none of its runs is queued until resumed`
        : `Schedule ${id} was paused already`,
    );
  } else {
    io.out(
      changed
        ? `Resumed schedule ${id}: its next run is queued when due`
        : `Schedule ${id} was not paused`,
    );
  }
  return 0;
}
