/**
 * Side-by-side benchmarks, run in one go and reported as ratios (pq ÷ peer).
 *
 * Redis (the default): BullMQ, Bee-Queue and pq on ONE private
 * redis-server. The workload, the same for the three (each harness does it
 * and prints one JSON line, see `metrics` below): queue `bench`, payload
 * `{ i }`, an async no-op handler that returns its input, results and
 * completion events kept as each queue keeps them by default; producer and
 * workers are separate processes, connecting and starting are not timed.
 * Enqueue N one at a time, each awaited (serial), and in batches of 1000
 * (bulk); drain N queued tasks with one worker process at C = 1, 10 and
 * 100, and with 2 processes × C = 50 (from "go" to the N-th completion
 * recorded); latency p50/p99 of 5000 tasks queued at 500/s open-loop to a
 * C = 10 worker (queueing to the completion event heard by the producer);
 * and the Redis commands per second of an idle C = 100 worker (10 s).
 *
 *   deno run -A bench/run_side_by_side.ts          # N=20000 ROUNDS=3
 *   N=2000 ROUNDS=1 deno run -A bench/run_side_by_side.ts
 *
 * Starts `redis-server --port <free> --save '' --appendonly no` on 127.0.0.1,
 * runs `npm ci` in bench/peers if a dependency of its package.json is not
 * installed, then runs ROUNDS rounds (3 by default) of the three harnesses
 * (each given REDIS_HOST, REDIS_PORT and N), with FLUSHALL before every run:
 *
 *   node bench/peers/bullmq_harness.mjs
 *   node bench/peers/bee_harness.mjs
 *   deno run -A bench/pq_harness.ts          (skipped, with a note, if absent)
 *
 * The order is rotated: round r (from 0) starts at harness r mod 3 of the
 * list above. The table gives per metric each library's median over the
 * rounds, and the ratios pq ÷ peer of those medians.
 *
 * Embedded (`--embedded`, `deno task bench:embedded`): pq's SQLite store,
 * plainjob (Node, SQLite on better-sqlite3), bunqueue (Bun, its embedded
 * mode on bun:sqlite) and Deno KV queues (a local KV file, SQLite) doing the
 * same workload, that of bench/drain_sqlite.ts: N no-op tasks queued in
 * bulk into a fresh file (batches of 1000, one bulk call or atomic commit
 * each, timed), then drained by one worker process (from the first task
 * started to the N-th done): pq with C concurrent tasks (100,
 * drain_sqlite.ts's default), bunqueue with concurrency C, Deno KV with its
 * fixed 100 in flight, plainjob with W workers (10; each runs one job at a
 * time, and plainjob's drain rate hardly moves with W: about 6,700-7,000
 * jobs/s here for W = 1, 10 and 100).
 *
 *   deno run -A bench/run_side_by_side.ts --embedded     # N=10000 C=100 W=10
 *   N=2000 ROUNDS=1 deno run -A bench/run_side_by_side.ts --embedded
 *   C=10 W=10 deno run -A bench/run_side_by_side.ts --embedded
 *   PQ_BEFORE=/tmp/pq_old deno run -A bench/run_side_by_side.ts --embedded
 *
 *   deno run -A bench/drain_sqlite.ts                         (N, C)
 *   node bench/peers/plainjob_harness.mjs                     (N, W)
 *   bench/peers/node_modules/.bin/bun bench/peers/bunqueue_harness.mjs (N, C)
 *   deno run -A --unstable-kv bench/denokv_harness.ts         (N)
 *
 * PQ_BEFORE, a checkout of another pq commit (`git archive <commit> | tar -x
 * -C <dir>`), adds its drain_sqlite.ts as "pq before", run in that folder:
 * before and after measured in the same rounds.
 *
 * ROUNDS rounds (3 by default), the order rotated (round r starts at
 * harness r mod their number), each on a fresh file; the table gives the
 * medians, and the ratios pq ÷ each of the others.
 *
 * Each harness prints one JSON line. The raw lines are echoed to stdout,
 * followed by a Markdown table. A failed run (no JSON line, a non-zero exit,
 * a failed scenario) is noted under the table and left out of the medians;
 * the exit code is then 1. Harness progress goes to stderr. redis-server
 * is stopped at the end, also on error or Ctrl-C.
 */

import { startRedis } from "../tests/_redis.ts";

const root = new URL("../", import.meta.url);
const rootPath = root.pathname;
const peersPath = new URL("bench/peers/", root).pathname;
const N = Deno.env.get("N") ?? "20000";
const ROUNDS = Number(Deno.env.get("ROUNDS") ?? 3);

type Result = Record<string, unknown> & { lib?: string; version?: string };

interface Harness {
  label: string;
  cmd: string;
  args: string[];
  /** file that must exist for this harness to run */
  file: string;
  /** the folder it runs in (the repository's root when absent) */
  cwd?: string;
}

const harnesses: Harness[] = [
  {
    label: "BullMQ",
    cmd: "node",
    args: ["bench/peers/bullmq_harness.mjs"],
    file: "bench/peers/bullmq_harness.mjs",
  },
  {
    label: "Bee-Queue",
    cmd: "node",
    args: ["bench/peers/bee_harness.mjs"],
    file: "bench/peers/bee_harness.mjs",
  },
  {
    label: "pq",
    cmd: Deno.execPath(),
    args: ["run", "-A", "bench/pq_harness.ts"],
    file: "bench/pq_harness.ts",
  },
];

/** [key, label, unit, higher is better] */
const metrics: [string, string, string, boolean][] = [
  ["enqueue_serial_jobs_s", "enqueue serial", "jobs/s", true],
  ["enqueue_bulk_jobs_s", "enqueue bulk (1000/batch)", "jobs/s", true],
  ["drain_c1_jobs_s", "drain C=1", "jobs/s", true],
  ["drain_c10_jobs_s", "drain C=10", "jobs/s", true],
  ["drain_c100_jobs_s", "drain C=100", "jobs/s", true],
  ["drain_2p_c50_jobs_s", "drain 2 procs × C=50", "jobs/s", true],
  ["latency_p50_ms", "latency p50 at 500 jobs/s", "ms", false],
  ["latency_p99_ms", "latency p99 at 500 jobs/s", "ms", false],
  ["idle_commands_s", "idle worker (C=100) Redis commands", "cmds/s", false],
];

const log = (msg: string) => console.error(`[side-by-side] ${msg}`);

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}

/** Runs `npm ci` in bench/peers unless every dependency is installed. */
async function ensurePeerDeps() {
  const manifest = JSON.parse(
    await Deno.readTextFile(`${peersPath}package.json`),
  ) as { dependencies?: Record<string, string> };
  const missing: string[] = [];
  for (const name of Object.keys(manifest.dependencies ?? {})) {
    if (!await exists(`${peersPath}node_modules/${name}/package.json`)) {
      missing.push(name);
    }
  }
  if (missing.length === 0) return;
  const hasLock = await exists(`${peersPath}package-lock.json`);
  const args = hasLock ? ["ci"] : ["install"];
  log(
    `bench/peers: ${missing.join(", ")} not installed: npm ${args.join(" ")}`,
  );
  const out = await new Deno.Command("npm", {
    args,
    cwd: peersPath,
    stdin: "null",
    stdout: "piped", // keep our stdout for the results
    stderr: "inherit",
  }).output();
  await Deno.stderr.write(out.stdout);
  if (!out.success) throw new Error(`npm ${args.join(" ")} failed`);
}

/** One harness run: its result, or a note saying what failed. */
interface Run {
  result?: Result;
  note?: string;
  /** the harness's file does not exist: not a failure */
  skipped?: boolean;
}

/** One round: its order (labels) and the results that count, by label. */
interface Round {
  order: string[];
  results: Record<string, Result>;
}

/**
 * Runs `h` with `env`; its last JSON line as the result, and what went wrong
 * (no JSON line, a non-zero exit code).
 */
async function execHarness(
  h: Harness,
  env: Record<string, string>,
): Promise<{ result?: Result; problems: string[] }> {
  const shown = Object.entries(env).map(([k, v]) => `${k}=${v}`).join(", ");
  log(`${h.label}: ${h.cmd} ${h.args.join(" ")} (${shown})`);
  const out = await new Deno.Command(h.cmd, {
    args: h.args,
    cwd: h.cwd ?? rootPath,
    env,
    stdin: "null",
    stdout: "piped",
    stderr: "inherit",
  }).output();
  const lines = new TextDecoder().decode(out.stdout).split("\n");
  let result: Result | undefined;
  for (const line of lines.reverse()) {
    const t = line.trim();
    if (!t.startsWith("{")) continue;
    try {
      result = JSON.parse(t);
      break;
    } catch { /* not the result line */ }
  }
  if (!result) {
    return { problems: [`no JSON result line (exit code ${out.code})`] };
  }
  return {
    result,
    problems: out.success ? [] : [`exited with code ${out.code}`],
  };
}

/** The Run of `h` given its result and problems. */
function toRun(
  h: Harness,
  result: Result | undefined,
  problems: string[],
): Run {
  return {
    result,
    note: problems.length ? `${h.label}: ${problems.join("; ")}` : undefined,
  };
}

/** `list` rotated left by `round` places: round r starts at r mod length. */
function rotated<T>(list: T[], round: number): T[] {
  const k = round % list.length;
  return [...list.slice(k), ...list.slice(0, k)];
}

/** Throws unless ROUNDS is a positive integer (both halves, first thing). */
function checkRounds() {
  if (!Number.isInteger(ROUNDS) || ROUNDS <= 0) {
    throw new RangeError(`ROUNDS must be a positive integer: got ${ROUNDS}`);
  }
}

/**
 * ROUNDS rounds of `list`, the order rotated each round, `before` awaited
 * before every run. Echoes each result line; a failed run is noted and left
 * out of the round's results (so out of the medians), a skipped harness is
 * noted once.
 */
async function runRounds(
  list: Harness[],
  run: (h: Harness) => Promise<Run>,
  before: () => Promise<unknown> = () => Promise.resolve(),
): Promise<{ rounds: Round[]; notes: string[]; failed: boolean }> {
  const rounds: Round[] = [];
  const notes: string[] = [];
  let failed = false;
  for (let round = 0; round < ROUNDS; round++) {
    const order = rotated(list, round);
    log(
      `round ${round + 1}/${ROUNDS}: ${order.map((h) => h.label).join(", ")}`,
    );
    const results: Record<string, Result> = {};
    for (const h of order) {
      await before();
      const { result, note, skipped } = await run(h);
      if (result) console.log(JSON.stringify(result));
      if (result && !note) results[h.label] = result;
      if (!note) continue;
      log(`round ${round + 1}: ${note}`);
      if (skipped) {
        if (!notes.includes(note)) notes.push(note);
      } else {
        notes.push(`round ${round + 1}: ${note} (left out of the medians)`);
        failed = true;
      }
    }
    rounds.push({ order: order.map((h) => h.label), results });
  }
  return { rounds, notes, failed };
}

/** The finite values of `key` in `lib`'s counted results, round by round. */
function valuesOf(rounds: Round[], lib: string, key: string): number[] {
  return rounds.map((r) => r.results[lib]?.[key]).filter((v): v is number =>
    typeof v === "number" && Number.isFinite(v)
  );
}

function medianOf(rounds: Round[], lib: string, key: string) {
  return median(valuesOf(rounds, lib, key));
}

/** The first counted value of `key` for `lib` (version, runtime...), or —. */
function firstOf(rounds: Round[], lib: string, key: string): string {
  const v = rounds.map((r) => r.results[lib]?.[key]).find((v) => v != null);
  return v == null ? "—" : String(v);
}

async function runHarness(h: Harness, port: number): Promise<Run> {
  if (!await exists(`${rootPath}${h.file}`)) {
    return {
      note: `${h.file} does not exist yet: ${h.label} skipped`,
      skipped: true,
    };
  }
  const { result, problems } = await execHarness(h, {
    REDIS_HOST: "127.0.0.1",
    REDIS_PORT: String(port),
    N,
  });
  const errors = (result?.detail as { errors?: Record<string, string> })
    ?.errors;
  for (const [scenario, msg] of Object.entries(errors ?? {})) {
    problems.push(`scenario ${scenario} failed: ${msg}`);
  }
  return toRun(h, result, problems);
}

function fmtValue(v: unknown, unit: string): string {
  if (typeof v !== "number" || !Number.isFinite(v)) return "—";
  if (unit === "jobs/s") return Math.round(v).toLocaleString("en-US");
  return v.toFixed(2);
}

function fmtRatio(pq: unknown, peer: unknown): string {
  if (typeof pq !== "number" || typeof peer !== "number") return "—";
  if (peer === 0) return pq === 0 ? "= (both 0)" : "∞ (peer 0)";
  return `${(pq / peer).toFixed(2)}×`;
}

function table(rounds: Round[], notes: string[]): string {
  const [bull, bee, pq] = harnesses.map((h) => h.label);
  const rows: string[] = [];
  rows.push(
    `| metric | unit | better | BullMQ | Bee-Queue | pq | pq / BullMQ | pq / Bee-Queue |`,
    `|---|---|---|---:|---:|---:|---:|---:|`,
  );
  for (const key of ["version", "runtime"]) {
    rows.push(
      `| ${key} | | | ${firstOf(rounds, bull, key)} | ${
        firstOf(rounds, bee, key)
      } | ${firstOf(rounds, pq, key)} | | |`,
    );
  }
  for (const [key, label, unit, higher] of metrics) {
    const [b, e, p] = [bull, bee, pq].map((lib) => medianOf(rounds, lib, key));
    rows.push(
      `| ${label} | ${unit} | ${higher ? "higher ↑" : "lower ↓"} | ${
        fmtValue(b, unit)
      } | ${fmtValue(e, unit)} | ${fmtValue(p, unit)} | ${fmtRatio(p, b)} | ${
        fmtRatio(p, e)
      } |`,
    );
  }
  const text = [
    `N = ${N}, ${rounds.length} round${rounds.length === 1 ? "" : "s"}, ` +
    "order rotated, medians " +
    "(one private redis-server).",
    "",
    ...rows,
    "",
    "Ratios are always pq ÷ peer, of the medians. For jobs/s rows (higher ↑) " +
    "a ratio above 1× means pq is faster; for latency and idle-command rows " +
    "(lower ↓) a ratio BELOW 1× means pq is better.",
  ];
  if (notes.length) text.push("", ...notes.map((n) => `Note: ${n}`));
  return text.join("\n");
}

async function redisMain(): Promise<number> {
  checkRounds();
  await ensurePeerDeps();
  const redis = await startRedis(); // no persistence, as the workload says
  const onSignal = () => {
    Promise.resolve(redis[Symbol.asyncDispose]()).finally(() => Deno.exit(130));
  };
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  let outcome;
  try {
    outcome = await runRounds(
      harnesses,
      (h) => runHarness(h, redis.port),
      () => redis.cli("FLUSHALL"),
    );
  } finally {
    await redis[Symbol.asyncDispose]();
    Deno.removeSignalListener("SIGINT", onSignal);
    Deno.removeSignalListener("SIGTERM", onSignal);
  }
  console.log();
  console.log(table(outcome.rounds, outcome.notes));
  return outcome.failed ? 1 : 0;
}

// ---------------------------------------------------------------------------
// embedded: pq's SQLite store, plainjob, bunqueue and Deno KV queues

const EMBEDDED_N = Deno.env.get("N") ?? "10000";
const EMBEDDED_C = Deno.env.get("C") ?? "100";
const EMBEDDED_W = Deno.env.get("W") ?? "10";
/** A checkout of another pq commit, measured beside this one. */
const PQ_BEFORE = Deno.env.get("PQ_BEFORE");

const embedded: Harness[] = [
  {
    label: "pq",
    cmd: Deno.execPath(),
    args: ["run", "-A", "bench/drain_sqlite.ts"],
    file: "bench/drain_sqlite.ts",
  },
  {
    label: "plainjob",
    cmd: "node",
    args: ["bench/peers/plainjob_harness.mjs"],
    file: "bench/peers/plainjob_harness.mjs",
  },
  {
    label: "bunqueue",
    cmd: `${peersPath}node_modules/.bin/bun`,
    args: ["bench/peers/bunqueue_harness.mjs"],
    file: "bench/peers/bunqueue_harness.mjs",
  },
  {
    label: "Deno KV",
    cmd: Deno.execPath(),
    args: ["run", "-A", "--unstable-kv", "bench/denokv_harness.ts"],
    file: "bench/denokv_harness.ts",
  },
  ...(PQ_BEFORE
    ? [{
      label: "pq before",
      cmd: Deno.execPath(),
      args: ["run", "-A", "bench/drain_sqlite.ts"],
      file: "bench/drain_sqlite.ts",
      cwd: PQ_BEFORE,
    }]
    : []),
];

/** [key, label, unit] of the embedded table (all higher is better). */
const embeddedMetrics: [string, string, string][] = [
  ["enqueue_bulk_jobs_s", "enqueue bulk (1000/batch)", "jobs/s"],
  [
    "drain_jobs_s",
    `drain (C=${EMBEDDED_C}; plainjob W=${EMBEDDED_W}; Deno KV 100)`,
    "jobs/s",
  ],
];

/** Runs one embedded harness; the result, or a note saying what failed. */
async function runEmbedded(h: Harness): Promise<Run> {
  const dir = h.cwd ?? rootPath;
  if (!await exists(`${dir}/${h.file}`)) {
    return {
      note: `${h.file} does not exist in ${dir}: ${h.label} skipped`,
      skipped: true,
    };
  }
  const { result, problems } = await execHarness(h, {
    N: EMBEDDED_N,
    C: EMBEDDED_C,
    W: EMBEDDED_W,
  });
  if (result && result.succeeded !== Number(EMBEDDED_N)) {
    problems.push(
      `${result.succeeded} tasks succeeded, expected ${EMBEDDED_N}`,
    );
  }
  return toRun(h, result, problems);
}

function median(values: number[]): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

function embeddedTable(rounds: Round[], notes: string[]): string {
  const labels = embedded.map((h) => h.label);
  const others = labels.filter((label) => label !== "pq");
  const cells = (values: string[]) => values.join(" | ");
  const rows = [
    `| metric | unit | ${cells(labels)} | ${
      cells(others.map((label) => `pq ÷ ${label}`))
    } |`,
    `|---|---|${[...labels, ...others].map(() => "---:").join("|")}|`,
  ];
  for (const key of ["version", "runtime", "store"]) {
    rows.push(
      `| ${key} | | ${
        cells(labels.map((label) => firstOf(rounds, label, key)))
      } | ${cells(others.map(() => ""))} |`,
    );
  }
  for (const [key, label, unit] of embeddedMetrics) {
    const pq = medianOf(rounds, "pq", key);
    rows.push(
      `| ${label} | ${unit} | ${
        cells(labels.map((lib) => fmtValue(medianOf(rounds, lib, key), unit)))
      } | ${
        cells(others.map((lib) => fmtRatio(pq, medianOf(rounds, lib, key))))
      } |`,
    );
  }
  const perRound = [
    `| round | order | ${cells(labels.map((label) => `${label} bulk`))} | ${
      cells(labels.map((label) => `${label} drain`))
    } |`,
    `|---|---|${[...labels, ...labels].map(() => "---:").join("|")}|`,
    ...rounds.map((r, i) => {
      const v = (key: string) =>
        cells(labels.map((lib) => fmtValue(r.results[lib]?.[key], "jobs/s")));
      return `| ${i + 1} | ${r.order.join(", ")} | ${
        v("enqueue_bulk_jobs_s")
      } | ${v("drain_jobs_s")} |`;
    }),
  ];
  const text = [
    `N = ${EMBEDDED_N} no-op tasks on a fresh SQLite file: queued in bulk ` +
    `(batches of 1000, timed), then drained by one worker process (pq and ` +
    `bunqueue: ${EMBEDDED_C} concurrent tasks; plainjob: ${EMBEDDED_W} ` +
    "workers, each one job at a time; Deno KV: its 100 in flight). Medians " +
    `of ${rounds.length} round(s), the order rotated.`,
    "",
    ...rows,
    "",
    "Ratios are pq ÷ the other, jobs/s (higher ↑): above 1× pq is faster.",
    "",
    "Per round (jobs/s):",
    "",
    ...perRound,
  ];
  if (notes.length) text.push("", ...notes.map((n) => `Note: ${n}`));
  return text.join("\n");
}

async function embeddedMain(): Promise<number> {
  checkRounds();
  await ensurePeerDeps();
  const { rounds, notes, failed } = await runRounds(embedded, runEmbedded);
  console.log();
  console.log(embeddedTable(rounds, notes));
  return failed ? 1 : 0;
}

Deno.exit(
  await (Deno.args.includes("--embedded") ? embeddedMain() : redisMain()),
);
