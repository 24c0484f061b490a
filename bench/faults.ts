/**
 * pq's fault suite: four faults, each on its own private redis-server,
 * measured with a ledger of every completed task (bench/jobs/ledger.ts
 * appends `<index> <pid> <unix ms>` after a 200 ms sleep). Servers are
 * `cli.ts` with `workers: 0` (one process each, so SIGKILL ends a whole
 * server).
 *
 *   deno task bench:faults                  # every scenario
 *   ONLY=sigkill,idle deno task bench:faults
 *   TASKS=300 deno task bench:faults        # a shorter SIGKILL scenario
 *
 * Scenarios (as the peers were measured):
 * - sigkill: 2 servers × 10 concurrent, 1,000 tasks queued up front; every
 *   2 s for 30 s one server is SIGKILLed and a new one started at once.
 *   All done (from the first queue), longest gap between completions.
 * - restart: Redis (AOF, fsync always) SIGKILLed under load, restarted 2 s
 *   later: first completion after it answers PING.
 * - clients: `CLIENT KILL TYPE normal` every second for 10 s: completions
 *   in the 9 s window (450 without faults: 10 × 5/s).
 * - idle: commands an idle server sends per second over 10 s (INFO
 *   commandstats; "inside" counts those run by its scripts too).
 * - revoke: a running task revoked, in each mode: revoke to REVOKED.
 * Every scenario reports tasks lost and tasks run twice.
 */
import { PulsarQueue, type Task, TaskStatus } from "../mod.ts";
import { type RedisServer, startRedis } from "../tests/_redis.ts";
import { type Server, serverArgs, startServer } from "../tests/_server.ts";

const LEDGER_JOBS = new URL("./jobs/ledger.ts", import.meta.url).pathname;
const MODE_JOBS =
  new URL("../tests/fixtures/mode_jobs.ts", import.meta.url).pathname;
const ONLY = (Deno.env.get("ONLY") ?? "sigkill,restart,clients,idle,revoke")
  .split(",");
const TASKS = Number(Deno.env.get("TASKS") ?? 1000);

const sleep = (ms: number) => new Promise((ok) => setTimeout(ok, ms));

interface Row {
  scenario: string;
  figure: string;
  target: string;
  lost: number | string;
  twice: number | string;
  json: Record<string, unknown>;
}

/** A ledger file: completions as [index, pid, unix ms]. */
class Ledger {
  readonly path: string;
  constructor(dir: string, name: string) {
    this.path = `${dir}/${name}.ledger`;
  }
  async read(): Promise<Array<[number, number, number]>> {
    const text = await Deno.readTextFile(this.path).catch(() => "");
    return text.split("\n").filter(Boolean).map((line) =>
      line.split(" ").map(Number) as [number, number, number]
    );
  }
  /** Indexes never completed, and indexes completed more than once. */
  async tally(n: number): Promise<{ lost: number; twice: number }> {
    const seen = new Map<number, number>();
    for (const [i] of await this.read()) seen.set(i, (seen.get(i) ?? 0) + 1);
    let lost = 0, twice = 0;
    for (let i = 0; i < n; i++) {
      const count = seen.get(i) ?? 0;
      if (count === 0) lost++;
      if (count > 1) twice++;
    }
    return { lost, twice };
  }
}

function server(redis: RedisServer, extra: Record<string, number> = {}) {
  return startServer(serverArgs({
    workers: 0,
    concurrentTasks: 10,
    dataStore: redis.url(),
    taskPaths: `${LEDGER_JOBS},${MODE_JOBS}`,
    logLevel: "error",
    ...extra,
  }));
}

async function producer(redis: RedisServer) {
  return await new PulsarQueue({
    dataStore: redis.url(),
    taskPaths: [LEDGER_JOBS, MODE_JOBS],
  }).api().start();
}

async function queueLedger(
  api: Awaited<ReturnType<typeof producer>>,
  ledger: Ledger,
  n: number,
): Promise<void> {
  for (let at = 0; at < n; at += 500) {
    const kwargs = Array.from(
      { length: Math.min(500, n - at) },
      (_, k) => ({ path: ledger.path, i: at + k }),
    );
    await api.tasks.queueMany("bench.ledger", kwargs);
  }
}

/** Waits until `n` distinct indexes are in the ledger, or `seconds`. */
async function drained(ledger: Ledger, n: number, seconds: number) {
  const deadline = Date.now() + seconds * 1000;
  while (Date.now() < deadline) {
    const done = new Set((await ledger.read()).map(([i]) => i));
    if (done.size >= n) return true;
    await sleep(200);
  }
  return false;
}

async function sigkill(dir: string): Promise<Row> {
  await using redis = await startRedis();
  const ledger = new Ledger(dir, "sigkill");
  const servers: Server[] = [server(redis), server(redis)];
  await using api = await producer(redis);
  while ((await api.workers()).length < 2) await sleep(100);
  const start = Date.now();
  await queueLedger(api, ledger, TASKS);
  let victim = 0;
  for (let t = 0; t < 15; t++) {
    await sleep(2000);
    servers[victim].process.kill("SIGKILL");
    await servers[victim].stop();
    servers[victim] = server(redis);
    victim = 1 - victim;
  }
  const done = await drained(ledger, TASKS, 180);
  const times = (await ledger.read()).map(([, , ms]) => ms).sort((a, b) =>
    a - b
  );
  let gap = 0;
  for (let i = 1; i < times.length; i++) {
    gap = Math.max(gap, times[i] - times[i - 1]);
  }
  const allDone = done ? (times.at(-1)! - start) / 1000 : Infinity;
  for (const s of servers) await s.stop();
  const { lost, twice } = await ledger.tally(TASKS);
  return {
    scenario: `SIGKILL a server every 2 s for 30 s (${TASKS} tasks)`,
    figure: `all done ${allDone.toFixed(1)} s, longest gap ${
      (gap / 1000).toFixed(1)
    } s`,
    target: "gap ≤ 5 s, all done ≤ 20 s",
    lost,
    twice,
    json: { all_done_s: allDone, longest_gap_s: gap / 1000 },
  };
}

async function restart(dir: string): Promise<Row> {
  await using redis = await startRedis({ aof: true });
  const ledger = new Ledger(dir, "restart");
  const n = 600;
  await using s = server(redis);
  {
    await using api = await producer(redis);
    while ((await api.workers()).length < 1) await sleep(100);
    await queueLedger(api, ledger, n);
  }
  await sleep(3000);
  await redis.stop(true);
  await sleep(2000);
  await redis.restart();
  let pong = 0;
  while (!pong) {
    if ((await redis.cli("PING").catch(() => "")).includes("PONG")) {
      pong = Date.now();
    } else await sleep(5);
  }
  let first = 0;
  while (!first && Date.now() - pong < 30_000) {
    first = (await ledger.read()).map(([, , ms]) =>
      ms
    ).find((ms) => ms >= pong) ?? 0;
    if (!first) await sleep(10);
  }
  await drained(ledger, n, 120);
  await s.stop();
  const { lost, twice } = await ledger.tally(n);
  const after = first ? (first - pong) / 1000 : Infinity;
  return {
    scenario: "Redis SIGKILLed, restarted 2 s later (AOF always)",
    figure: `first completion ${after.toFixed(2)} s after PING answers`,
    target: "≤ 0.3 s",
    lost,
    twice,
    json: { first_completion_after_ping_s: after },
  };
}

async function clients(dir: string): Promise<Row> {
  await using redis = await startRedis();
  const ledger = new Ledger(dir, "clients");
  const n = 1000;
  await using s = server(redis);
  {
    await using api = await producer(redis);
    while ((await api.workers()).length < 1) await sleep(100);
    await queueLedger(api, ledger, n);
  }
  await sleep(1000);
  const kills: number[] = [];
  for (let k = 0; k < 10; k++) {
    kills.push(Date.now());
    await redis.cli("CLIENT", "KILL", "TYPE", "normal");
    if (k < 9) await sleep(1000);
  }
  const [from, to] = [kills[0], kills.at(-1)!];
  await drained(ledger, n, 120);
  await s.stop();
  const window =
    (await ledger.read()).filter(([, , ms]) => ms >= from && ms <= to).length;
  const { lost, twice } = await ledger.tally(n);
  return {
    scenario: "CLIENT KILL TYPE normal every second for 10 s",
    figure: `${window} done in the ${((to - from) / 1000).toFixed(0)} s window`,
    target: "≥ 400",
    lost,
    twice,
    json: { done_in_window: window },
  };
}

function commandStats(text: string): Map<string, number> {
  return new Map(
    [...text.matchAll(/cmdstat_([^:]+):calls=(\d+)/g)].map((m) => [
      m[1],
      Number(m[2]),
    ]),
  );
}

async function idle(): Promise<Row> {
  await using redis = await startRedis();
  await using s = server(redis, { concurrentTasks: 100 });
  {
    await using api = await producer(redis);
    while ((await api.workers()).length < 1) await sleep(100);
  }
  await sleep(5000);
  const seconds = 10;
  const before = commandStats(await redis.cli("INFO", "commandstats"));
  await sleep(seconds * 1000);
  const after = commandStats(await redis.cli("INFO", "commandstats"));
  const rate = new Map<string, number>();
  for (const [name, calls] of after) {
    // One INFO of ours is counted in `after`.
    const n = calls - (before.get(name) ?? 0) - (name === "info" ? 1 : 0);
    if (n > 0) rate.set(name, n / seconds);
  }
  const sentNames = ["evalsha", "blpop", "publish", "ping", "zrange", "hmget"];
  const sent = sentNames.reduce((sum, name) => sum + (rate.get(name) ?? 0), 0);
  const inside = [...rate.values()].reduce((a, b) => a + b, 0);
  await s.stop();
  const detail = [...rate].map(([k, v]) => `${k} ${v.toFixed(2)}`).join(", ");
  return {
    scenario: "Idle server, empty queue (10 s)",
    figure: `${sent.toFixed(2)} commands/s sent, ${
      inside.toFixed(2)
    } with those inside scripts (${detail})`,
    target: "≤ 1 sent, ≤ 2 inside",
    lost: "-",
    twice: "-",
    json: { sent_per_s: sent, with_inside_per_s: inside },
  };
}

async function revoke(dir: string): Promise<Row> {
  await using redis = await startRedis();
  // One worker process: a stuck Web Worker ends it, and the arbiter
  // starts another.
  await using _server = server(redis, { leaseTimeout: 60, workers: 1 });
  await using api = await producer(redis);
  while ((await api.workers()).length < 1) await sleep(100);
  const figures: string[] = [];
  const json: Record<string, unknown> = {};
  let late = 0;
  const modes = [
    "writelater.async",
    "writelater.thread",
    "writelater.process",
    "spinwrite.thread",
  ];
  for (const name of modes) {
    const took: number[] = [];
    for (let k = 0; k < 5; k++) {
      const path = `${dir}/revoke-${name}-${k}`;
      while ((await api.workers()).length < 1) await sleep(100);
      const future = api.tasks.queue(name, { path, lag: 4 });
      const started = Promise.withResolvers<void>();
      const revoked = Promise.withResolvers<number>();
      await api.onEvents("task", future.id, (_c, _e, data) => {
        const status = (data as Task).status;
        if (status === TaskStatus.STARTED) started.resolve();
        if (status === TaskStatus.REVOKED) revoked.resolve(performance.now());
      });
      await started.promise;
      // Revoked once it runs its code (a Web Worker that has not begun
      // would still answer its abort).
      await sleep(500);
      const asked = performance.now();
      await api.tasks.revoke(future.id);
      took.push((await revoked.promise) - asked);
      await future;
      // A stuck Web Worker ends its process: wait for the new one.
      if (name === "spinwrite.thread") await sleep(3000);
    }
    took.sort((a, b) => a - b);
    late += took.filter((ms) => ms > 500).length;
    figures.push(
      `${name} ${took[2].toFixed(0)} ms (max ${took[4].toFixed(0)})`,
    );
    json[name] = { median_ms: took[2], max_ms: took[4] };
  }
  await sleep(4500);
  let written = 0;
  for await (const entry of Deno.readDir(dir)) {
    // The spinning job's marker (written before it spins) does not count.
    if (entry.name.startsWith("revoke-") && !entry.name.endsWith(".spinning")) {
      written++;
    }
  }
  return {
    scenario: "Revoke a running task (5 per mode): revoke → REVOKED",
    figure: `${figures.join("; ")}; ${written} stopped jobs wrote their file`,
    target: "≤ 500 ms, code stopped",
    lost: "-",
    twice: `${late} late`,
    json,
  };
}

const dir = await Deno.makeTempDir({ prefix: "pq_faults_" });
const rows: Row[] = [];
try {
  const scenarios: Array<[string, () => Promise<Row>]> = [
    ["sigkill", () => sigkill(dir)],
    ["restart", () => restart(dir)],
    ["clients", () => clients(dir)],
    ["idle", () => idle()],
    ["revoke", () => revoke(dir)],
  ];
  for (const [name, run] of scenarios) {
    if (!ONLY.includes(name)) continue;
    console.error(`bench:faults: ${name}...`);
    const row = await run();
    console.log(JSON.stringify({ scenario: name, ...row.json }));
    rows.push(row);
  }
} finally {
  await Deno.remove(dir, { recursive: true });
}
console.log("\n| scenario | pq | target | lost | run twice |");
console.log("|---|---|---|---:|---:|");
for (const r of rows) {
  console.log(
    `| ${r.scenario} | ${r.figure} | ${r.target} | ${r.lost} | ${r.twice} |`,
  );
}
