/**
 * pq's fault suite (`deno task bench:faults`): each fault on its own private
 * redis-server, measured with a ledger of every completed task
 * (bench/jobs/ledger.ts appends `<index> <pid> <unix ms> <task id>` after a
 * 200 ms sleep). Servers are `deno run -A cli.ts --workers 0
 * --concurrent-tasks 10` (the arbiter consumes in-process), each started in
 * its own process group, so a SIGKILL of the group ends the whole server.
 *
 *   deno task bench:faults                      # every scenario, full size
 *   ONLY=sigkill,idle deno task bench:faults    # some of them
 *   TASKS=300 DURATION=10 deno task bench:faults  # a quick run
 *
 * Environment: `ONLY` (sigkill,restart,clients,idle,revoke,freeze), `TASKS` (tasks
 * of the SIGKILL scenario, 1000), `DURATION` (seconds of SIGKILLs, 30; the
 * client kills and the idle span last min(10, DURATION) s), `CAP` (seconds
 * the SIGKILL scenario may take to finish, 180).
 *
 * Scenarios (the definitions the peers were measured with):
 * - sigkill: 2 servers, TASKS tasks queued up front; every 2 s for DURATION
 *   one server's process group is SIGKILLed (alternately) and a new server
 *   started at once. All done (from the first queue call), longest gap
 *   between consecutive completions.
 * - restart: Redis (AOF, fsync always) SIGKILLed under load, restarted on
 *   the same port and folder 2 s later: the first completion after it
 *   answers PING.
 * - clients: `CLIENT KILL TYPE normal` every second for 10 s under a backlog:
 *   completions between the first and the last kill (450 without faults:
 *   10 × 5/s × 9 s).
 * - idle: commands an idle server sends per second over 10 s, by command,
 *   from MONITOR ("sent") and INFO commandstats (with those its scripts run).
 * - revoke: a running task revoked, 5 in each mode: revoke to REVOKED.
 * - freeze (on Redis, then on SQLite): a server of 2 worker processes
 *   (`--workers 2`, 10 tasks each, 30 s leases), 20 tasks of 2 s; once
 *   they run, the worker process with the most is frozen (SIGSTOP) for
 *   8 s, then resumed (SIGCONT), then 40 tasks of 0.2 s more. Time from
 *   the freeze until each of its tasks started elsewhere (the last one is
 *   the figure), results the frozen process wrote (final records of its
 *   worker), and the tasks it ran after it was resumed.
 *
 * Every ledger scenario reports tasks lost (indexes never completed) and run
 * twice (indexes completed more than once), waiting for the queue to drain.
 * @module
 */
import { PulsarQueue, type Task, TaskStatus } from "../mod.ts";
import { type RedisServer, startRedis } from "../tests/_redis.ts";
import { serverArgs } from "../tests/_server.ts";

const ROOT = new URL("..", import.meta.url).pathname;
const CLI = new URL("../cli.ts", import.meta.url).pathname;
const LEDGER_JOBS = new URL("./jobs/ledger.ts", import.meta.url).pathname;
const MODE_JOBS =
  new URL("../tests/fixtures/mode_jobs.ts", import.meta.url).pathname;
const ONLY = (Deno.env.get("ONLY") ??
  "sigkill,restart,clients,idle,revoke,freeze")
  .split(",").map((s) => s.trim());
const TASKS = Number(Deno.env.get("TASKS") ?? 1000);
const DURATION = Number(Deno.env.get("DURATION") ?? 30);
const SHORT = Math.min(10, DURATION);
const CAP = Number(Deno.env.get("CAP") ?? 180);
const NAMESPACE = "pq";

const sleep = (ms: number) => new Promise((ok) => setTimeout(ok, ms));
const until = (at: number) => sleep(Math.max(0, at - Date.now()));
const s1 = (ms: number) => (ms / 1000).toFixed(1);
const s2 = (ms: number) => (ms / 1000).toFixed(2);

interface Row {
  scenario: string;
  figure: string;
  target: string;
  met: boolean | undefined;
  lost: number | string;
  twice: number | string;
  json: Record<string, unknown>;
}

// ---------------------------------------------------------------------------
// Processes: every server and redis-server is tracked by PID, so that an
// error or Ctrl-C still stops them all.

const liveGroups = new Set<number>();
const liveRedis = new Set<RedisServer>();

function killGroup(pid: number, signal: Deno.Signal): void {
  try {
    Deno.kill(-pid, signal);
  } catch {
    // The group is gone.
  }
}

function killEverythingSync(): void {
  for (const pid of liveGroups) killGroup(pid, "SIGKILL");
  liveGroups.clear();
  for (const redis of liveRedis) redis.stopSync();
  liveRedis.clear();
}

Deno.addSignalListener("SIGINT", () => {
  killEverythingSync();
  Deno.exit(130);
});

async function redisServer(aof = false): Promise<RedisServer> {
  const redis = await startRedis({ aof });
  liveRedis.add(redis);
  return {
    ...redis,
    async [Symbol.asyncDispose]() {
      liveRedis.delete(redis);
      await redis[Symbol.asyncDispose]();
    },
  };
}

/** A `cli.ts` server, the leader of its own process group. */
class Server {
  readonly child: Deno.ChildProcess;
  readonly pid: number;
  readonly status: Promise<Deno.CommandStatus>;
  killedAt?: number;
  /** Set once the process exited. */
  exited = false;
  #log = "";

  constructor(
    store: RedisServer | string,
    extra: Record<string, string | number>,
  ) {
    this.child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        CLI,
        ...serverArgs({
          workers: 0,
          concurrentTasks: 10,
          dataStore: typeof store === "string" ? store : store.url(NAMESPACE),
          taskPaths: LEDGER_JOBS,
          logLevel: "warning",
          ...extra,
        }),
      ],
      cwd: ROOT,
      detached: true,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.pid = this.child.pid;
    liveGroups.add(this.pid);
    const decoder = new TextDecoder();
    const keep = async (stream: ReadableStream<Uint8Array>) => {
      for await (const chunk of stream) {
        this.#log += decoder.decode(chunk, { stream: true });
        if (this.#log.length > 200_000) this.#log = this.#log.slice(-100_000);
      }
    };
    const reading = Promise.all([
      keep(this.child.stdout),
      keep(this.child.stderr),
    ]);
    this.status = this.child.status.then(async (status) => {
      this.exited = true;
      await reading;
      return status;
    });
  }

  /** What the server logged (warnings and errors). */
  log(): string {
    return this.#log;
  }

  /** SIGKILLs the whole process group at once. */
  kill(): void {
    this.killedAt = Date.now();
    killGroup(this.pid, "SIGKILL");
    liveGroups.delete(this.pid);
  }

  /** SIGTERM, then SIGKILL after `seconds`; resolves when it exited. */
  async stop(seconds = 40): Promise<Deno.CommandStatus> {
    if (!liveGroups.has(this.pid)) return await this.status;
    killGroup(this.pid, "SIGTERM");
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<void>((ok) => {
      timer = setTimeout(ok, seconds * 1000);
    });
    await Promise.race([this.status, late]);
    clearTimeout(timer);
    killGroup(this.pid, "SIGKILL");
    liveGroups.delete(this.pid);
    return await this.status;
  }

  async [Symbol.asyncDispose]() {
    await this.stop();
  }
}

function server(
  store: RedisServer | string,
  extra: Record<string, string | number> = {},
): Server {
  return new Server(store, extra);
}

async function producer(
  store: RedisServer | string,
  taskPaths = [LEDGER_JOBS],
) {
  const dataStore = typeof store === "string" ? store : store.url(NAMESPACE);
  return await new PulsarQueue({ dataStore, taskPaths }).api().start();
}

type Producer = Awaited<ReturnType<typeof producer>>;

async function workersUp(
  api: Producer,
  n: number,
  servers: Server[],
): Promise<void> {
  const deadline = Date.now() + 60_000;
  while ((await api.workers()).length < n) {
    if (Date.now() > deadline || servers.some((s) => s.exited)) {
      await Promise.all(servers.map((s) => s.stop(1)));
      throw new Error(
        `${n} workers did not start; the servers logged:\n` +
          servers.map((s) => s.log()).join("\n"),
      );
    }
    await sleep(100);
  }
}

// ---------------------------------------------------------------------------
// The ledger.

interface Completion {
  i: number;
  pid: number;
  ms: number;
  id: string;
}

interface Duplicate {
  i: number;
  runs: Array<{ pid: number; ms: number; id: string }>;
  /** Kill of the first run's process minus the first run's completion. */
  killedAfterMs?: number;
}

class Ledger {
  readonly path: string;
  constructor(dir: string, name: string) {
    this.path = `${dir}/${name}.ledger`;
  }

  async read(): Promise<Completion[]> {
    const text = await Deno.readTextFile(this.path).catch(() => "");
    return text.split("\n").filter(Boolean).map((line) => {
      const [i, pid, ms, id] = line.split(" ");
      return { i: Number(i), pid: Number(pid), ms: Number(ms), id };
    });
  }

  async queue(api: Producer, n: number): Promise<void> {
    for (let at = 0; at < n; at += 500) {
      const kwargs = Array.from(
        { length: Math.min(500, n - at) },
        (_, k) => ({ path: this.path, i: at + k }),
      );
      await api.tasks.queueMany("bench.ledger", kwargs);
    }
  }

  /** Waits until `n` distinct indexes are in the ledger, or `seconds`. */
  async drained(n: number, seconds: number): Promise<boolean> {
    const deadline = Date.now() + seconds * 1000;
    while (Date.now() < deadline) {
      const done = new Set((await this.read()).map(({ i }) => i));
      if (done.size >= n) return true;
      await sleep(200);
    }
    return false;
  }

  /**
   * Indexes of 0..n-1 never completed, and those completed more than once
   * (with the kill of the first run's process, when `killed` knows it).
   */
  async tally(
    n: number,
    killed = new Map<number, number>(),
  ): Promise<{ lost: number[]; twice: Duplicate[] }> {
    const runs = new Map<number, Completion[]>();
    for (const c of await this.read()) {
      runs.set(c.i, [...(runs.get(c.i) ?? []), c]);
    }
    const lost: number[] = [];
    const twice: Duplicate[] = [];
    for (let i = 0; i < n; i++) {
      const list = (runs.get(i) ?? []).sort((a, b) => a.ms - b.ms);
      if (list.length === 0) lost.push(i);
      if (list.length < 2) continue;
      const killedAt = killed.get(list[0].pid);
      twice.push({
        i,
        runs: list.map(({ pid, ms, id }) => ({ pid, ms, id })),
        killedAfterMs: killedAt === undefined
          ? undefined
          : killedAt - list[0].ms,
      });
    }
    return { lost, twice };
  }
}

/** Longest span between consecutive completions, and where it lies. */
function longestGap(times: number[]): { ms: number; from: number } {
  const sorted = [...times].sort((a, b) => a - b);
  let best = { ms: 0, from: sorted[0] ?? 0 };
  for (let k = 1; k < sorted.length; k++) {
    const ms = sorted[k] - sorted[k - 1];
    if (ms > best.ms) best = { ms, from: sorted[k - 1] };
  }
  return best;
}

function twiceText(twice: Duplicate[]): string {
  if (twice.length === 0) return "0";
  const soon =
    twice.filter((d) =>
      d.killedAfterMs !== undefined && d.killedAfterMs >= 0 &&
      d.killedAfterMs <= 1000
    ).length;
  return `${twice.length} (${soon} finished, then killed ≤ 1 s later)`;
}

function lostText(lost: number[]): string {
  return lost.length === 0
    ? "0"
    : `${lost.length} (${lost.slice(0, 5).join(", ")}${
      lost.length > 5 ? "…" : ""
    })`;
}

/** Counts log lines of servers that match each pattern. */
function logCounts(servers: Server[]): Record<string, number> {
  const text = servers.map((s) => s.log()).join("\n");
  const count = (re: RegExp) => text.split("\n").filter((l) => re.test(l));
  return {
    lease_lost_warnings: count(/Lease of task .* was lost/).length,
    cannot_record_warnings: count(/Cannot record/).length,
    error_lines: count(/\bERR|error|Error/).length,
  };
}

// ---------------------------------------------------------------------------
// Scenarios.

async function sigkill(dir: string): Promise<Row> {
  await using redis = await redisServer();
  const ledger = new Ledger(dir, "sigkill");
  const all: Server[] = [server(redis), server(redis)];
  const servers = [all[0], all[1]];
  const killed = new Map<number, number>();
  const kills: number[] = [];
  try {
    await using api = await producer(redis);
    await workersUp(api, 2, all);
    const start = Date.now();
    await ledger.queue(api, TASKS);
    const queuedMs = Date.now() - start;
    let victim = 0;
    for (let k = 1; k * 2 <= DURATION; k++) {
      await until(start + k * 2000);
      const dead = servers[victim];
      dead.kill();
      killed.set(dead.pid, dead.killedAt!);
      kills.push(dead.killedAt! - start);
      servers[victim] = server(redis);
      all.push(servers[victim]);
      victim = 1 - victim;
    }
    const done = await ledger.drained(
      TASKS,
      Math.max(1, CAP - (Date.now() - start) / 1000),
    );
    const completions = await ledger.read();
    const times = completions.map(({ ms }) => ms);
    const gap = longestGap(times);
    const allDoneMs = done ? Math.max(...times) - start : Infinity;
    await Promise.all(servers.map((s) => s.stop()));
    const { lost, twice } = await ledger.tally(TASKS, killed);
    const met = done && gap.ms <= 5000 && allDoneMs <= 20_000 &&
      lost.length === 0;
    return {
      scenario: `SIGKILL a server every 2 s for ${DURATION} s, a new one at ` +
        `once (2 × 10, ${TASKS} tasks)`,
      figure: `${
        done
          ? `all done ${s1(allDoneMs)} s`
          : `not done in ${CAP} s (${
            new Set(completions.map(({ i }) => i)).size
          }/${TASKS})`
      }, longest gap ${s1(gap.ms)} s (from ${s1(gap.from - start)} s)`,
      target: "gap ≤ 5 s, all done ≤ 20 s",
      met,
      lost: lostText(lost),
      twice: twiceText(twice),
      json: {
        tasks: TASKS,
        all_done_s: done ? allDoneMs / 1000 : null,
        longest_gap_s: gap.ms / 1000,
        longest_gap_from_s: (gap.from - start) / 1000,
        queued_in_s: queuedMs / 1000,
        completions: completions.length,
        kills_at_s: kills.map((ms) => ms / 1000),
        lost: lost.length,
        run_twice: twice.length,
        duplicates: twice.slice(0, 20).map((d) => ({
          i: d.i,
          runs: d.runs.map((r) => `pid ${r.pid} at ${s2(r.ms - start)} s`),
          first_run_killed_after_ms: d.killedAfterMs ?? null,
        })),
        servers_started: all.length,
        ...logCounts(all),
      },
    };
  } finally {
    await Promise.all(all.map((s) => s.stop(5)));
  }
}

/** True when Redis on `port` answers PING with PONG (one raw connection). */
async function pong(port: number): Promise<boolean> {
  try {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    try {
      await conn.write(new TextEncoder().encode("PING\r\n"));
      const buffer = new Uint8Array(64);
      const n = await conn.read(buffer);
      return new TextDecoder().decode(buffer.subarray(0, n ?? 0))
        .startsWith("+PONG");
    } finally {
      conn.close();
    }
  } catch {
    return false;
  }
}

async function restart(dir: string): Promise<Row> {
  await using redis = await redisServer(true);
  const ledger = new Ledger(dir, "restart");
  const n = 600;
  await using s = server(redis);
  {
    await using api = await producer(redis);
    await workersUp(api, 1, [s]);
    await ledger.queue(api, n);
  }
  await sleep(3000);
  const killedAt = Date.now();
  await redis.stop(true);
  await until(killedAt + 2000);
  const restartedAt = Date.now();
  const restarting = redis.restart();
  let pongAt = 0;
  while (!pongAt && Date.now() - restartedAt < 30_000) {
    if (await pong(redis.port)) pongAt = Date.now();
    else await sleep(1);
  }
  await restarting;
  let first = 0;
  while (!first && Date.now() - pongAt < 30_000) {
    const after = (await ledger.read()).filter(({ ms }) => ms >= pongAt);
    first = Math.min(...after.map(({ ms }) => ms), Infinity);
    if (!Number.isFinite(first)) {
      first = 0;
      await sleep(10);
    }
  }
  const done = await ledger.drained(n, 120);
  await s.stop();
  const completions = await ledger.read();
  const { lost, twice } = await ledger.tally(n);
  const afterMs = first ? first - pongAt : Infinity;
  return {
    scenario: "Redis SIGKILLed, restarted 2 s later (AOF always)",
    figure: first
      ? `first completion ${s2(afterMs)} s after PING answers`
      : "no completion within 30 s of PING",
    target: "≤ 0.3 s",
    met: afterMs <= 300 && lost.length === 0,
    lost: lostText(lost),
    twice: twiceText(twice),
    json: {
      first_completion_after_ping_s: first ? afterMs / 1000 : null,
      restart_to_ping_s: (pongAt - restartedAt) / 1000,
      completions_while_down:
        completions.filter(({ ms }) => ms > killedAt && ms < pongAt).length,
      all_done: done,
      lost: lost.length,
      run_twice: twice.length,
      duplicates: twice.slice(0, 10).map((d) => d.runs.map((r) => r.pid)),
      ...logCounts([s]),
    },
  };
}

async function clients(dir: string): Promise<Row> {
  await using redis = await redisServer();
  const ledger = new Ledger(dir, "clients");
  const n = Math.max(200, SHORT * 100);
  await using s = server(redis);
  {
    await using api = await producer(redis);
    await workersUp(api, 1, [s]);
    await ledger.queue(api, n);
  }
  const begin = Date.now() + 1000;
  const kills: number[] = [];
  const killedClients: string[] = [];
  for (let k = 0; k < SHORT; k++) {
    await until(begin + k * 1000);
    kills.push(Date.now());
    killedClients.push(await redis.send(["CLIENT", "KILL", "TYPE", "normal"]));
  }
  const [from, to] = [kills[0], kills.at(-1)!];
  const done = await ledger.drained(n, 120);
  await s.stop();
  const completions = await ledger.read();
  const window = completions.filter(({ ms }) => ms >= from && ms <= to).length;
  const { lost, twice } = await ledger.tally(n);
  const expected = Math.round(50 * (to - from) / 1000);
  return {
    scenario: `\`CLIENT KILL TYPE normal\` every second for ${SHORT} s`,
    figure: `${window} done in the ${s1(to - from)} s window (${expected} ` +
      `without faults)`,
    target: `≥ ${Math.round(expected * 400 / 450)}`,
    met: window >= expected * 400 / 450 && lost.length === 0,
    lost: lostText(lost),
    twice: twiceText(twice),
    json: {
      done_in_window: window,
      window_s: (to - from) / 1000,
      clients_killed: killedClients.map((r) => Number(r.replace(":", ""))),
      all_done: done,
      lost: lost.length,
      run_twice: twice.length,
      ...logCounts([s]),
    },
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

/** Every command Redis shows on MONITOR until `stop()`, by source. */
async function monitor(port: number) {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  await conn.write(new TextEncoder().encode("MONITOR\r\n"));
  const sent = new Map<string, number>();
  const inside = new Map<string, number>();
  const clients = new Set<string>();
  const ready = Promise.withResolvers<void>();
  const reading = (async () => {
    const decoder = new TextDecoder();
    let rest = "";
    try {
      for await (const chunk of conn.readable) {
        rest += decoder.decode(chunk, { stream: true });
        const lines = rest.split("\r\n");
        rest = lines.pop()!;
        for (const line of lines) {
          if (line === "+OK") ready.resolve();
          const m = line.match(/^\+[\d.]+ \[\d+ ([^\]]+)\] "([^"]*)"/);
          if (!m) continue;
          const [, source, name] = m;
          const command = name.toLowerCase();
          const into = source === "lua" ? inside : sent;
          into.set(command, (into.get(command) ?? 0) + 1);
          if (source !== "lua") clients.add(source);
        }
      }
    } catch {
      // Closed by stop().
    }
  })();
  await ready.promise;
  return {
    async stop() {
      try {
        conn.close();
      } catch {
        // Already closed.
      }
      await reading;
      return { sent, inside, clients };
    },
  };
}

function perSecond(counts: Map<string, number>, seconds: number): string {
  return [...counts].sort((a, b) => b[1] - a[1])
    .map(([k, v]) => `${k} ${(v / seconds).toFixed(2)}`).join(", ");
}

const total = (m: Map<string, number>) =>
  [...m.values()].reduce((a, b) => a + b, 0);

async function idle(): Promise<Row> {
  await using redis = await redisServer();
  await using s = server(redis);
  {
    await using api = await producer(redis);
    await workersUp(api, 1, [s]);
  }
  // Start-up and the producer's goodbye are over.
  await sleep(5000);
  const seconds = SHORT;
  const before = commandStats(await redis.cli("INFO", "commandstats"));
  const watch = await monitor(redis.port);
  await sleep(seconds * 1000);
  const { sent, inside, clients } = await watch.stop();
  const after = commandStats(await redis.cli("INFO", "commandstats"));
  const stats = new Map<string, number>();
  for (const [name, calls] of after) {
    // Ours: the INFO before, and MONITOR.
    if (name === "info" || name === "monitor") continue;
    const n = calls - (before.get(name) ?? 0);
    if (n > 0) stats.set(name, n);
  }
  const sentPerS = total(sent) / seconds;
  const insidePerS = total(inside) / seconds;
  const statsPerS = total(stats) / seconds;
  return {
    scenario: `Idle server, empty queue (${seconds} s)`,
    figure: `${sentPerS.toFixed(2)} commands/s sent (${
      perSecond(sent, seconds)
    }); ${(sentPerS + insidePerS).toFixed(2)} with the ${
      insidePerS.toFixed(2)
    }/s run inside its scripts (${perSecond(inside, seconds)})`,
    target: "≤ 1 command/s",
    met: sentPerS <= 1,
    lost: "-",
    twice: "-",
    json: {
      seconds,
      sent_per_s: sentPerS,
      inside_scripts_per_s: insidePerS,
      commandstats_per_s: statsPerS,
      sent: Object.fromEntries(sent),
      inside_scripts: Object.fromEntries(inside),
      commandstats: Object.fromEntries(stats),
      connections_seen: clients.size,
    },
  };
}

async function revoke(dir: string): Promise<Row> {
  await using redis = await redisServer();
  // One worker process: a stuck Web Worker ends it, and the arbiter
  // starts another.
  await using s = server(redis, {
    leaseTimeout: 60,
    workers: 1,
    taskPaths: `${LEDGER_JOBS},${MODE_JOBS}`,
  });
  await using api = await producer(redis, [LEDGER_JOBS, MODE_JOBS]);
  await workersUp(api, 1, [s]);
  const figures: string[] = [];
  const json: Record<string, unknown> = {};
  let late = 0;
  let worst = 0;
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
      await workersUp(api, 1, [s]);
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
    worst = Math.max(worst, took[4]);
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
    met: late === 0 && written === 0,
    lost: "-",
    twice: `${late} late`,
    json: { ...json, late, worst_ms: worst, stopped_jobs_that_wrote: written },
  };
}

/**
 * A worker process frozen (SIGSTOP) while it runs tasks, then resumed: see
 * the module header. `store` is "redis" or "sqlite".
 */
async function freeze(dir: string, store: "redis" | "sqlite"): Promise<Row> {
  await using redis = store === "redis" ? await redisServer() : undefined;
  const dataStore = redis?.url(NAMESPACE) ?? `sqlite:${dir}/freeze.sqlite`;
  const ledger = new Ledger(dir, `freeze-${store}`);
  const [n, more, lag, frozenFor] = [10, 40, 2, 8];
  await using s = server(dataStore, { workers: 2, leaseTimeout: 30 });
  await using api = await producer(dataStore);
  await workersUp(api, 2, [s]);
  const starts = new Map<string, Array<{ worker: string; ms: number }>>();
  await api.onEvents("task", "started", (_c, _e, task) => {
    const list = starts.get(task.id) ?? [];
    list.push({ worker: task.worker!, ms: Date.now() });
    starts.set(task.id, list);
  });
  const futures = Array.from(
    { length: n },
    (_, i) => api.tasks.queue("bench.ledger", { path: ledger.path, i, lag }),
  );
  const ids = futures.map((f) => f.id);
  while (ids.some((id) => !starts.has(id))) await sleep(10);
  const byWorker = Map.groupBy(ids, (id) => starts.get(id)![0].worker);
  const [victim, theirs] =
    [...byWorker].sort((a, b) => b[1].length - a[1].length)[0];
  // Frozen once its beat says it runs them, as `pq workers` would show.
  let pid = 0;
  while (!pid) {
    const status = (await api.workers()).find((w) => w.worker === victim);
    if (theirs.every((id) => status?.concurrentTasks.includes(id))) {
      pid = status!.pid;
    } else await sleep(10);
  }
  const frozenAt = Date.now();
  Deno.kill(pid, "SIGSTOP");
  try {
    await until(frozenAt + frozenFor * 1000);
  } finally {
    Deno.kill(pid, "SIGCONT");
  }
  const resumedAt = Date.now();
  const tasks = await Promise.all(futures);
  const extra = await Promise.all(
    Array.from(
      { length: more },
      (_, k) =>
        api.tasks.queue("bench.ledger", { path: ledger.path, i: n + k }),
    ),
  );
  await ledger.drained(n + more, 60);
  // Time for late outcomes of the resumed process to land.
  await sleep(2000);
  const after = await Promise.all(ids.map((id) => api.tasks.get(id)));
  await s.stop();
  const elsewhere = theirs.map((id) =>
    starts.get(id)!.find((start) => start.worker !== victim)?.ms
  );
  const restarted = elsewhere.filter((ms) => ms !== undefined) as number[];
  const lastMs = restarted.length === theirs.length
    ? Math.max(...restarted) - frozenAt
    : Infinity;
  const firstMs = Math.min(...restarted) - frozenAt;
  const byFrozen = after.filter((task) => task?.worker === victim).length;
  const failed = tasks.filter((task) => task.statusString !== "SUCCESS")
    .length + extra.filter((task) => task.statusString !== "SUCCESS").length;
  const completions = await ledger.read();
  // Its first tasks cannot end while it is frozen: each of their ledger
  // lines is a job that ended as it resumed.
  const late =
    completions.filter((c) => c.pid === pid && c.ms >= frozenAt && c.i < n)
      .length;
  const resumedRan = extra.filter((task) => task.worker === victim).length;
  const { lost, twice } = await ledger.tally(n + more);
  return {
    scenario: `${store === "redis" ? "Redis" : "SQLite"}: a worker process ` +
      `of 2 frozen (SIGSTOP) ${frozenFor} s with ${theirs.length} running ` +
      `${lag} s tasks, then resumed`,
    figure: Number.isFinite(lastMs)
      ? `its tasks started elsewhere ${s2(firstMs)}–${
        s2(lastMs)
      } s after the freeze; ${byFrozen} results written by it; resumed, it ran ${resumedRan} of ${more} new tasks`
      : `${restarted.length} of its ${theirs.length} tasks started elsewhere`,
    target: "≤ 5 s, its late outcomes refused",
    met: lastMs <= 5000 && byFrozen === 0 && lost.length === 0 && failed === 0,
    lost: lostText(lost),
    twice: `${twice.length} (${late} ended by the frozen process as it ` +
      `resumed, outcomes refused)`,
    json: {
      store,
      frozen_tasks: theirs.length,
      restarted_elsewhere_first_s: firstMs / 1000,
      restarted_elsewhere_last_s: Number.isFinite(lastMs)
        ? lastMs / 1000
        : null,
      frozen_s: (resumedAt - frozenAt) / 1000,
      results_by_frozen_process: byFrozen,
      not_success: failed,
      late_runs_by_frozen_process: late,
      resumed_process_ran_of_new: resumedRan,
      lost: lost.length,
      run_twice: twice.length,
      ...logCounts([s]),
    },
  };
}

// ---------------------------------------------------------------------------

const dir = await Deno.makeTempDir({ prefix: "pq_faults_" });
const rows: Row[] = [];
const began = new Date();
try {
  const scenarios: Array<[string, () => Promise<Row>]> = [
    ["sigkill", () => sigkill(dir)],
    ["restart", () => restart(dir)],
    ["clients", () => clients(dir)],
    ["idle", () => idle()],
    ["revoke", () => revoke(dir)],
    ["freeze", () => freeze(dir, "redis")],
    ["freeze", () => freeze(dir, "sqlite")],
  ];
  for (const [name, run] of scenarios) {
    if (!ONLY.includes(name)) continue;
    console.error(`bench:faults: ${name}...`);
    const row = await run();
    console.log(
      JSON.stringify({ scenario: name, met: row.met ?? null, ...row.json }),
    );
    rows.push(row);
  }
} finally {
  killEverythingSync();
  await Deno.remove(dir, { recursive: true });
}
console.log(
  `\npq bench:faults, ${began.toISOString().slice(0, 10)}, ` +
    `${navigator.hardwareConcurrency} cores, Deno ${Deno.version.deno}\n`,
);
console.log("| scenario | pq | target | met | lost | run twice |");
console.log("|---|---|---|---|---:|---:|");
for (const r of rows) {
  const met = r.met === undefined ? "" : r.met ? "yes" : "**no**";
  console.log(
    `| ${r.scenario} | ${r.figure} | ${r.target} | ${met} | ${r.lost} | ${r.twice} |`,
  );
}
