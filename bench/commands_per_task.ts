/**
 * What one task costs on Redis over its whole life, for pq and, measured
 * the same way, for BullMQ and Bee-Queue: Redis commands and Redis time per
 * task, queued alone and queued 1000 a call, and the worker process's CPU
 * per task while it drains at C=100. One private redis-server; prints a
 * JSON line per system, then a Markdown table (medians over the rounds).
 *
 *   deno task bench:commands                      # N=10000 ROUNDS=3
 *   N=2000 ROUNDS=1 deno task bench:commands
 *   SYSTEMS=pq deno task bench:commands           # pq alone (no npm needed)
 *   SYSTEMS=pq-store N=2000 deno task bench:commands   # the store API only
 *   TASK_GROUPS=10 SYSTEMS=pq-store deno task bench:commands  # tasks of 10
 *                                   groups (fair queues), store API only
 *
 * The peers need `npm ci` in bench/peers (Node 20+); without it they are
 * skipped, with a note. Environment: N (tasks per measure, 10000), ROUNDS
 * (3; the order of the systems rotates each round), SYSTEMS (a comma list
 * of pq-store, pq, bullmq, bee-queue; all by default).
 *
 * Two measures, each done for a task queued alone (one call per task) and
 * for tasks queued 1000 a call:
 *
 * - **pq, store API** (`pq-store`): the store alone, driven directly as a
 *   worker drives it (enqueue, claim max 100 + finish, then the records
 *   dropped by `reclaim` once their retention has passed, on a store clock
 *   moved forward): what the store's scripts cost, with no worker, producer
 *   API, events or heartbeats around them.
 * - **Whole life through the real worker** (`pq`, `bullmq`, `bee-queue`):
 *   `bench/peers/per_task.mjs` with each system's harness adapter (pq's is
 *   `bench/pq_harness.ts`'s): tasks queued through the producer API, then
 *   drained by a real worker process (the harness forked as `worker 100`,
 *   a no-op job, as in the side-by-side drains), INFO commandstats before
 *   and after, less the driver's own INFO and less the idle baseline (a
 *   consuming worker on an empty queue, per second, times the span). pq's
 *   finished records are then dropped by its reclaim past `resultTtl`, as
 *   they would be later; the peers keep finished jobs by default (the
 *   harnesses' settings), so theirs cost nothing more. This is what a
 *   user's task costs.
 *
 * Figures, per task (the table's columns):
 *
 * - **commands**: calls counted by INFO commandstats, which counts every
 *   command a Lua script or MULTI/EXEC runs as well as the EVALSHA/EXEC.
 * - **Redis µs (commandstats)**: the `usec` of INFO commandstats, summed
 *   over all commands. A script's `usec` includes the commands it runs,
 *   which are counted again under their own names, so this sum counts the
 *   time of scripted commands twice (the JSON line's
 *   `runner_usec_per_task` is the scripts' and EXECs' `usec` alone).
 * - **Redis CPU µs**: redis-server's user + system CPU (INFO cpu) over the
 *   same span: command execution plus parsing, replies and socket I/O.
 * - **worker CPU µs at C=100**: the worker process's CPU time (utime +
 *   stime of /proc/<pid>/stat, all its threads, 10 ms ticks) from "go" to
 *   its N-th completion, divided by N; from the measure of tasks queued
 *   1000 a call (pre-queued, as the harness's drain_c100), the run queued
 *   alone gives a second reading in its JSON (`alone`).
 *
 * A second table (`alone_live` in the JSON lines; real-worker systems only)
 * gives the same figures for tasks queued one at a time to a worker that
 * is already running, as most tasks arrive (pq hands a task to an idle
 * worker inside its enqueue script); its worker CPU runs from the first
 * task queued to the N-th completion.
 *
 * Targets (issue "a per-task budget"): ≤ 10 commands a task queued alone,
 * ≤ 6 queued 1000 a call, worker CPU ≤ 30 µs a task at C=100. The JSON line
 * of pq names the commit measured (`git log -1`, or COMMIT from the
 * environment) and the files under src/ changed in the working tree then.
 */
import { fileURLToPath } from "node:url";
import { defaultSettings } from "../src/model/settings_table.ts";
import { TaskStatus } from "../src/model/status.ts";
import { RedisStore } from "../src/store/redis/redis_store.ts";
import { newTaskId } from "../src/model/task.ts";
import { startRedis } from "../tests/_redis.ts";
import { measure } from "./peers/per_task.mjs";
import { adapter, dataStore } from "./pq_harness.ts";

const N = Number(Deno.env.get("N") ?? 10000);
const ROUNDS = Number(Deno.env.get("ROUNDS") ?? 3);
/** Tasks of the store measure in this many groups (fair queues); 0: none. */
const TASK_GROUPS = Number(Deno.env.get("TASK_GROUPS") ?? 0);
const SYSTEMS = (Deno.env.get("SYSTEMS") ?? "pq-store,pq,bullmq,bee-queue")
  .split(",").map((s) => s.trim()).filter(Boolean);
const BULK = 1000;
const root = new URL("../", import.meta.url);
const peers = new URL("bench/peers/", root);

type Figures = Record<string, unknown>;
type Line = Record<string, unknown> & { system: string };

const r2 = (x: number) => Math.round(x * 100) / 100;

await using redis = await startRedis();
Deno.env.set("REDIS_HOST", "127.0.0.1");
Deno.env.set("REDIS_PORT", String(redis.port));

/** INFO commandstats and cpu: name -> { calls, usec }, and CPU µs. */
async function stats(): Promise<
  { calls: Map<string, { calls: number; usec: number }>; cpuUs: number }
> {
  const out = await redis.cli("INFO", "commandstats", "cpu");
  const calls = new Map<string, { calls: number; usec: number }>();
  for (const m of out.matchAll(/^cmdstat_(\S+?):calls=(\d+),usec=(\d+)/gm)) {
    calls.set(m[1], { calls: Number(m[2]), usec: Number(m[3]) });
  }
  const user = Number(/used_cpu_user:([\d.]+)/.exec(out)![1]);
  const sys = Number(/used_cpu_sys:([\d.]+)/.exec(out)![1]);
  return { calls, cpuUs: (user + sys) * 1e6 };
}

/**
 * pq's store alone: N tasks queued `batch` a call, claimed 100 at a time
 * and finished, then dropped by reclaim past their retention.
 */
async function storeLife(batch: number): Promise<Figures> {
  await redis.cli("FLUSHALL");
  let clock = Date.now() / 1000;
  const resultTtl = 60;
  await using store = await RedisStore.open(redis.url(), {
    serializer: "json",
    resultTtl,
    now: () => clock,
  });
  const before = await stats();
  for (let at = 0; at < N; at += batch) {
    await store.enqueue(
      Array.from({ length: Math.min(batch, N - at) }, (_, k) => ({
        id: newTaskId(),
        name: "noop",
        queue: "bench",
        status: TaskStatus.QUEUED,
        timeQueued: clock,
        delay: 0,
        retry: 1,
        kwargs: { i: at + k },
        meta: TASK_GROUPS ? { group: `g${(at + k) % TASK_GROUPS}` } : {},
        runInfo: {},
      })),
    );
  }
  for (let done = 0; done < N;) {
    const claims = await store.claim({
      queues: ["bench"],
      max: 100,
      worker: "bench",
      node: "bench",
      leaseSeconds: 30,
    });
    await store.finish(claims.map((claim) => ({
      id: claim.id,
      token: claim.token,
      task: { ...claim.task!, status: TaskStatus.SUCCESS, timeEnded: clock },
    })));
    done += claims.length;
  }
  clock += resultTtl + 60;
  // a reclaim drops at most 1000 finished records a queue
  for (let k = 0; k < Math.ceil(N / 1000); k++) {
    await store.reclaim(3, ["bench"]);
  }
  const after = await stats();
  const left = Number(await redis.cli("DBSIZE"));
  const byCommand: Record<string, number> = {};
  let commands = 0, usec = 0, runnerUsec = 0;
  for (const [name, a] of after.calls) {
    const b = before.calls.get(name) ?? { calls: 0, usec: 0 };
    // the INFO of `before` is counted in `after`
    const n = a.calls - b.calls - (name === "info" ? 1 : 0);
    if (n <= 0) continue;
    const us = name === "info"
      ? (a.usec - b.usec) * n / (a.calls - b.calls)
      : a.usec - b.usec;
    byCommand[name] = Math.round((n / N) * 1000) / 1000;
    commands += n;
    usec += us;
    if (/^(eval|evalsha|eval_ro|evalsha_ro|fcall|fcall_ro|exec)$/.test(name)) {
      runnerUsec += us;
    }
  }
  return {
    commands_per_task: r2(commands / N),
    cmdstat_usec_per_task: r2(usec / N),
    runner_usec_per_task: r2(runnerUsec / N),
    redis_cpu_usec_per_task: r2((after.cpuUs - before.cpuUs) / N),
    keys_left: left,
    by_command_per_task: byCommand,
  };
}

/** pq's adapter, plus the drop of its finished records past retention. */
const pqAdapter = {
  ...adapter,
  async openRetention() {
    const settings = defaultSettings();
    const store = await RedisStore.open(dataStore(), {
      serializer: settings.messageSerializer,
      resultTtl: settings.resultTtl,
      now: () => Date.now() / 1000 + settings.resultTtl + 120,
    });
    return {
      async drop(n: number) {
        // a reclaim drops at most 1000 finished records a queue
        for (let k = 0; k < Math.ceil(n / 1000); k++) {
          await store.reclaim(settings.maxRedeliveries, ["bench"]);
        }
      },
      close: () => store.close(),
    };
  },
};

async function git(...args: string[]): Promise<string> {
  const out = await new Deno.Command("git", {
    args,
    cwd: fileURLToPath(root),
    stdout: "piped",
    stderr: "null",
  }).output();
  return new TextDecoder().decode(out.stdout).trimEnd();
}

async function peerInstalled(pkg: string): Promise<boolean> {
  try {
    await Deno.stat(new URL(`node_modules/${pkg}/package.json`, peers));
    return true;
  } catch {
    return false;
  }
}

/** A peer's measure: node bench/peers/per_task.mjs <harness>. */
async function peer(harness: string): Promise<Line> {
  const out = await new Deno.Command("node", {
    args: [fileURLToPath(new URL("per_task.mjs", peers)), harness],
    cwd: fileURLToPath(root),
    env: { REDIS_HOST: "127.0.0.1", REDIS_PORT: String(redis.port) },
    stdout: "piped",
    stderr: "inherit",
  }).output();
  const line = new TextDecoder().decode(out.stdout).trim().split("\n").at(-1);
  if (!out.success || !line) throw new Error(`${harness}: no result`);
  return JSON.parse(line);
}

const runs: Record<string, Line[]> = {};
const notes: string[] = [];
// outside a git checkout (an exported tree), COMMIT names what was measured
const commit = Deno.env.get("COMMIT") ??
  (await git("log", "-1", "--format=%h") ||
    "unknown");
const dirty = (await git("status", "--porcelain", "--", "src/")).split("\n")
  .filter(Boolean).map((l) => l.slice(3));

const measures: Record<string, () => Promise<Line>> = {
  "pq-store": async () => ({
    system: "pq-store",
    version: adapter.version,
    n: N,
    alone: await storeLife(1),
    bulk_1000: await storeLife(BULK),
  }),
  pq: async () => {
    await redis.cli("FLUSHALL");
    return await measure(
      pqAdapter,
      fileURLToPath(new URL("./pq_harness.ts", import.meta.url)),
      { n: N },
    ) as Line;
  },
  bullmq: () => peer("bench/peers/bullmq_harness.mjs"),
  "bee-queue": () => peer("bench/peers/bee_harness.mjs"),
};
const packages: Record<string, string> = {
  bullmq: "bullmq",
  "bee-queue": "bee-queue",
};
const systems: string[] = [];
for (const system of SYSTEMS) {
  if (!measures[system]) throw new Error(`unknown system ${system}`);
  if (packages[system] && !(await peerInstalled(packages[system]))) {
    notes.push(
      `${system}: skipped, not installed (run \`npm ci\` in bench/peers)`,
    );
    continue;
  }
  systems.push(system);
}

for (let round = 0; round < ROUNDS; round++) {
  for (let k = 0; k < systems.length; k++) {
    const system = systems[(k + round) % systems.length];
    console.error(`round ${round + 1}/${ROUNDS}: ${system} (N=${N})`);
    try {
      (runs[system] ??= []).push(await measures[system]());
    } catch (e) {
      notes.push(`${system}, round ${round + 1}: ${(e as Error).message}`);
    }
  }
}

function median(xs: number[]): number {
  const s = xs.filter(Number.isFinite).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** The medians of a system's rounds, figure by figure. */
function medians(lines: Line[]): Line {
  const first = lines[0];
  const out: Line = { ...first, rounds: lines.length };
  for (const mode of ["alone", "bulk_1000", "alone_live"]) {
    if (!first[mode]) continue;
    const figs = lines.map((l) => l[mode] as Figures);
    const merged: Figures = { ...figs[0] };
    for (const [key, value] of Object.entries(figs[0])) {
      if (typeof value === "number") {
        merged[key] = r2(median(figs.map((f) => f[key] as number)));
      }
    }
    out[mode] = merged;
  }
  if (first.system === "pq" || first.system === "pq-store") {
    out.commit = commit;
    out.src_changed = dirty;
  }
  return out;
}

const labels: Record<string, string> = {
  "pq-store": "pq, store API only (claim 100 + finish)",
  pq: "pq, whole life via real worker",
  bullmq: "BullMQ, whole life via real worker",
  "bee-queue": "Bee-Queue, whole life via real worker",
};
const rows: string[][] = [];
const liveRows: string[][] = [];
const f = (x: unknown, digits = 1) =>
  typeof x === "number" && Number.isFinite(x) ? x.toFixed(digits) : "—";
for (const system of systems) {
  if (!runs[system]?.length) continue;
  const line = medians(runs[system]);
  console.log(JSON.stringify(line));
  const a = line.alone as Figures, b = line.bulk_1000 as Figures;
  const live = line.alone_live as Figures | undefined;
  if (live) {
    liveRows.push([
      `${labels[system]} (${line.version})`,
      f(live.commands_per_task, 2),
      f(live.cmdstat_usec_per_task),
      f(live.redis_cpu_usec_per_task),
      f(live.worker_cpu_usec_per_task),
    ]);
  }
  rows.push([
    `${labels[system]} (${line.version})`,
    f(a.commands_per_task, 2),
    f(b.commands_per_task, 2),
    f(a.cmdstat_usec_per_task),
    f(b.cmdstat_usec_per_task),
    f(a.redis_cpu_usec_per_task),
    f(b.redis_cpu_usec_per_task),
    f(b.worker_cpu_usec_per_task),
  ]);
}

const header = [
  "system",
  "commands/task alone",
  "commands/task bulk",
  "Redis µs/task alone (cmdstat usec)",
  "Redis µs/task bulk (cmdstat usec)",
  "Redis CPU µs/task alone",
  "Redis CPU µs/task bulk",
  "worker CPU µs/task, C=100",
];
/** A Markdown table, the first column left-aligned, the others right. */
function table(head: string[], body: string[][]): void {
  const widths = head.map((h, i) =>
    Math.max(h.length, ...body.map((r) => r[i].length))
  );
  const fmt = (cells: string[]) =>
    `| ${
      cells.map((c, i) => i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))
        .join(" | ")
    } |`;
  console.log(fmt(head));
  console.log(
    `| ${
      widths.map((w, i) => i === 0 ? "-".repeat(w) : "-".repeat(w - 1) + ":")
        .join(" | ")
    } |`,
  );
  for (const row of body) console.log(fmt(row));
}

console.log();
console.log(
  `N = ${N}, ${ROUNDS} round(s), medians; pq at ${commit}${
    dirty.length ? ` (+ uncommitted: ${dirty.join(", ")})` : ""
  }; bulk = 1000 a call`,
);
console.log();
table(header, rows);
if (liveRows.length) {
  console.log();
  console.log(
    "Queued one at a time to a worker already running (C=100), per task:",
  );
  console.log();
  table([
    "system",
    "commands/task",
    "Redis µs/task (cmdstat usec)",
    "Redis CPU µs/task",
    "worker CPU µs/task",
  ], liveRows);
}
for (const note of notes) console.log(`\nNote: ${note}`);
if (notes.length) Deno.exitCode = 1;
