/**
 * pq's fault suite (`deno task bench:faults`): each fault on its own private
 * redis-server (or Redis Cluster, or Sentinel set), measured with a ledger of
 * every completed task (bench/jobs/ledger.ts appends `<index> <pid> <unix
 * ms> <task id> <unix ms it began>` after a 200 ms sleep, or its `lag`;
 * bench/_ledger.ts reads it). Servers are `deno run -A cli.ts --workers 0
 * --concurrent-tasks 10` (the arbiter consumes in-process), each started in
 * its own process group, so a SIGKILL of the group ends the whole server.
 *
 *   deno task bench:faults                      # every scenario, full size
 *   ONLY=sigkill,idle deno task bench:faults    # some of them
 *   TASKS=300 DURATION=10 deno task bench:faults  # a quick run
 *   ONLY=cluster,sentinel,hung deno task bench:faults  # the failovers
 *   ONLY=hung TASKS=600 HUNG_S=3 DURABILITY=default deno task bench:faults
 *
 * Environment: `ONLY` (sigkill,restart,clients,idle,revoke,freeze,cluster,
 * sentinel,hung), `TASKS` (tasks of the SIGKILL scenario, 1000, and of each
 * failover run, 3000), `DURATION` (seconds of SIGKILLs, 30; the client
 * kills and the idle span last min(10, DURATION) s), `CAP` (seconds the
 * SIGKILL scenario and each failover run may take to finish, 180), `LAG_MS`
 * (the sleep of the failover runs' tasks, 50), `HUNG_S` (seconds the hung
 * server stays stopped, 10), `DURABILITY` (the failover runs:
 * default,replicated), `LOGS` (a folder to keep each failover run's server
 * logs, ledger and marks in), `LOG_LEVEL` (of the failover runs' servers,
 * info).
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
 * - cluster, sentinel, hung (failover under load), each run with the default
 *   durability and with `&durability=replicated` (every write waits for a
 *   replica's WAIT; with none connected it fails): 2 servers of 20 tasks
 *   (`--task-queues` the 3 queues), TASKS tasks of LAG_MS spread over 3
 *   queues, queued once both servers' workers are up; the fault comes once
 *   a third of them completed.
 *   - cluster: `startRedisCluster()` (3 primaries + 3 replicas,
 *     cluster-node-timeout 1 s), the queues' hash tags on 3 different
 *     primaries; the primary of the first queue SIGKILLed. Replicated: the
 *     killed node restarted once its replica is promoted (as a supervisor
 *     would), back as a replica of it: until then the promoted primary has
 *     no replica and refuses every write of that queue.
 *   - sentinel: `startRedisSentinel()` (primary, replica, 3 sentinels,
 *     down-after 1 s), the 3 queues on the primary; the primary SIGKILLed.
 *     Replicated: restarted after the promotion; the sentinels make it a
 *     replica, and until then every write fails.
 *   - hung: one redis-server (replicated: with a second one replicating
 *     it), SIGSTOPped HUNG_S s, then SIGCONT.
 *   Promotion: the replica first answers ROLE as a primary (asked every
 *   10 ms); "all agree" when the harness's waitForFailover resolves.
 *   A worker claims its queues in order, each until it is empty: server k
 *   lists them rotated by k, so that the first queue still holds tasks at
 *   the fault.
 *   Figures: the time from the fault to the first completion of a task of
 *   the failed server's queues whose job began over 100 ms after it (a job
 *   running at the fault needs no store to write its line; for the cluster
 *   also of any queue), and from the promotion (or SIGCONT) to the first
 *   completion of one whose job began after it; the longest gap
 *   between completions (of the failed server's queues; and of all); all
 *   done from the first queue call, and completions/s over it. Targets: ≤ 2
 *   s after the promotion, ≤ 1 s after SIGCONT, nothing lost.
 *
 * Every ledger scenario reports tasks lost (indexes never completed) and run
 * twice (indexes completed more than once), waiting for the queue to drain.
 * @module
 */
import { PulsarQueue, type Task, TaskStatus } from "../mod.ts";
import { type RedisServer, startRedis } from "../tests/_redis.ts";
import { serverArgs } from "../tests/_server.ts";
import {
  type RedisCluster,
  startRedisCluster,
  startRedisSentinel,
} from "../tests/_redis_cluster.ts";
import { RedisClient } from "../src/store/redis/connection.ts";
import {
  type Duplicate,
  firstCompletionAfter,
  Ledger,
  LEDGER_JOBS,
  longestGap,
} from "./_ledger.ts";
import {
  commandStats,
  killGroup,
  monitor,
  perSecond,
} from "./_redis_monitor.ts";

const ROOT = new URL("..", import.meta.url).pathname;
const CLI = new URL("../cli.ts", import.meta.url).pathname;
const MODE_JOBS =
  new URL("../tests/fixtures/mode_jobs.ts", import.meta.url).pathname;
const ONLY = (Deno.env.get("ONLY") ??
  "sigkill,restart,clients,idle,revoke,freeze,cluster,sentinel,hung")
  .split(",").map((s) => s.trim());
const TASKS = Number(Deno.env.get("TASKS") ?? 1000);
/** Tasks of each failover run (cluster, sentinel, hung). */
const LOAD = Number(Deno.env.get("TASKS") ?? 3000);
const LAG_MS = Number(Deno.env.get("LAG_MS") ?? 50);
const HUNG_S = Number(Deno.env.get("HUNG_S") ?? 10);
const DURABILITIES = (Deno.env.get("DURABILITY") ?? "default,replicated")
  .split(",").map((s) => s.trim()) as Array<"default" | "replicated">;
/** A folder to write the failover runs' server logs to (none: not kept). */
const LOGS = Deno.env.get("LOGS");
/** The log level of the failover runs' servers. */
const LOG_LEVEL = Deno.env.get("LOG_LEVEL") ?? "info";
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
/** Redis Clusters and Sentinel sets (their processes are killed together). */
const liveSets = new Set<{ stopSync(): void }>();

function killEverythingSync(): void {
  for (const pid of liveGroups) killGroup(pid, "SIGKILL");
  liveGroups.clear();
  for (const redis of liveRedis) redis.stopSync();
  liveRedis.clear();
  for (const set of liveSets) set.stopSync();
  liveSets.clear();
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
// The ledger (bench/_ledger.ts), said for the table.

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
// Failover under load: a Redis Cluster's primary or Sentinel's primary
// SIGKILLed, or a lone server hung (SIGSTOP), each with the default
// durability and with `durability=replicated`.

/**
 * A job that began this soon after the fault was claimed before it: not a
 * completion after the fault.
 */
const CLAIMED_BEFORE_MS = 100;

/** The kinds of failover scenario. */
type FailoverKind = "cluster" | "sentinel" | "hung";

/** The durabilities each failover scenario runs with. */
type Durability = "default" | "replicated";

/**
 * Connects to the server on `port`; then `at` resolves with when it first
 * says it is a primary (ROLE), asked every 10 ms, or NaN once `stop()`ped.
 */
async function promotionOf(
  port: number,
): Promise<{ at: Promise<number>; stop(): void }> {
  let stopped = false;
  const client = new RedisClient(
    { hostname: "127.0.0.1", port, tls: false, db: 0 },
    { connectTimeout: 1, commandTimeout: 1 },
  );
  await client.connect();
  const at = (async () => {
    try {
      while (!stopped) {
        const reply = await client.whenReady(100)
          .then((up) => up ? client.send(["ROLE"]) : undefined)
          .catch(() => undefined);
        if (Array.isArray(reply) && String(reply[0]) === "master") {
          return Date.now();
        }
        await sleep(10);
      }
      return NaN;
    } finally {
      client.destroy();
    }
  })();
  return {
    at,
    stop() {
      stopped = true;
    },
  };
}

/** Waits until `redis-cli INFO replication` of a server says it is synced. */
async function synced(cli: () => Promise<string>): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (!(await cli()).includes("master_link_status:up")) {
    if (Date.now() > deadline) throw new Error("The replica did not sync");
    await sleep(25);
  }
}

/** The replica of the primary on `port` in a cluster. */
async function replicaOf(cluster: RedisCluster, port: number): Promise<number> {
  for (const node of cluster.nodes) {
    const info = await cluster.cli(node.port, "INFO", "replication");
    if (new RegExp(`master_port:${port}\\b`).test(info)) return node.port;
  }
  throw new Error(`No replica of ${port} in the cluster`);
}

/** The lines of the servers' logs about the store's outages. */
function outageLines(servers: Server[]): string[] {
  return servers.flatMap((s) =>
    s.log().split("\n").filter((line) =>
      /Lost the store|The store is back|no replica acknowledged/.test(line)
    )
  );
}

/** Seconds from `from` to `to`, or null when either is unknown. */
const span = (from: number | undefined, to: number | undefined) =>
  from === undefined || to === undefined || !Number.isFinite(from) ||
    !Number.isFinite(to)
    ? null
    : (to - from) / 1000;

/** `1.23 s`, or `none` for null. */
const secs = (s: number | null) => s === null ? "none" : `${s.toFixed(2)} s`;

/** The figures of one failover run, also printed side by side at the end. */
interface FailoverFigures {
  kind: FailoverKind;
  durability: Durability;
  lost: number;
  twice: number;
  /** Fault to the first completion of a task of the failed server's queues that began after it. */
  faultToFirst: number | null;
  /** The same, for a task of any queue (cluster: the others keep going). */
  faultToFirstAny: number | null;
  /** Promotion (or SIGCONT) to the first completion after the fault (failed queues). */
  recoveryToFirst: number | null;
  /** The target of `recoveryToFirst`, in s. */
  recoveryTarget: number;
  longestGap: number;
  /** Longest gap between completions of the failed server's queues. */
  longestGapFailed: number;
  /** Queue to the last completion, in s. */
  duration: number | null;
  perSecond: number | null;
  done: boolean;
  /**
   * Tasks queued again by reclaims (their lease expired, or was ended as
   * their worker was found dead), from the servers' warnings.
   */
  requeued: number;
  /** The killed server was restarted after the promotion. */
  restarted: boolean;
}

const failoverRuns: FailoverFigures[] = [];

/**
 * One failover run: see the module header. The store is started, then 2
 * servers, then the tasks queued; once a third of them completed the fault
 * comes, and the run waits for every task.
 */
async function failover(
  dir: string,
  kind: FailoverKind,
  durability: Durability,
): Promise<Row> {
  const replicated = durability === "replicated";
  const name = `${kind}-${durability}`;
  const ledger = new Ledger(dir, name);
  const queueNames = ["ledger-0", "ledger-1", "ledger-2"];
  const marks: Record<string, number> = {};
  const notes: string[] = [];
  await using stack = new AsyncDisposableStack();
  let url: string;
  let queues: string[] = queueNames;
  /** The queues whose server fails (cluster: the first one's shard). */
  let failedQueues: Set<string>;
  /** Brings the fault, and the recovery; resolves when it is over. */
  let fault: () => Promise<void>;
  if (kind === "cluster") {
    const cluster = await startRedisCluster();
    liveSets.add(cluster);
    stack.defer(async () => {
      liveSets.delete(cluster);
      await cluster[Symbol.asyncDispose]();
    });
    url = cluster.url(NAMESPACE);
    queues = await cluster.queuesOnDistinctPrimaries(3, "ledger-");
    const victim = await cluster.primaryOf(
      await cluster.keySlot(`{${queues[0]}}`),
    );
    const replica = await replicaOf(cluster, victim);
    failedQueues = new Set([queues[0]]);
    notes.push(
      `queues ${queues.join(", ")} on 3 primaries; SIGKILL ${victim} ` +
        `(${queues[0]}), its replica ${replica}`,
    );
    fault = async () => {
      const promotion = await promotionOf(replica);
      marks.fault = Date.now();
      cluster.signal(victim, "SIGKILL");
      const agreed = cluster.waitForFailover(victim).then((port) => {
        marks.agreed = Date.now();
        return port;
      });
      marks.promoted = await Promise.race([
        promotion.at,
        sleep(30_000).then(() => NaN),
      ]);
      promotion.stop();
      const promoted = await agreed;
      if (promoted !== replica) {
        notes.push(`${promoted} took over, not ${replica}`);
      }
      if (replicated) {
        // As a supervisor would: the killed node back, a replica now.
        marks.restarted = Date.now();
        await cluster.restart(victim);
        marks.synced = Date.now();
        notes.push(`${victim} restarted after the promotion, a synced replica`);
      }
    };
  } else if (kind === "sentinel") {
    const sentinels = await startRedisSentinel();
    liveSets.add(sentinels);
    stack.defer(async () => {
      liveSets.delete(sentinels);
      await sentinels[Symbol.asyncDispose]();
    });
    url = sentinels.url(NAMESPACE);
    const { primaryPort: victim, replicaPort: replica } = sentinels;
    failedQueues = new Set(queues);
    notes.push(`SIGKILL primary ${victim}, replica ${replica}`);
    fault = async () => {
      const promotion = await promotionOf(replica);
      marks.fault = Date.now();
      sentinels.signal(victim, "SIGKILL");
      const agreed = sentinels.waitForFailover(victim).then((port) => {
        marks.agreed = Date.now();
        return port;
      });
      marks.promoted = await Promise.race([
        promotion.at,
        sleep(30_000).then(() => NaN),
      ]);
      promotion.stop();
      await agreed;
      if (replicated) {
        marks.restarted = Date.now();
        await sentinels.restart(victim);
        marks.synced = Date.now();
        notes.push(
          `${victim} restarted after the promotion; the sentinels made it ` +
            "a replica",
        );
      }
    };
  } else {
    const redis = await redisServer();
    stack.use(redis);
    url = redis.url(NAMESPACE);
    failedQueues = new Set(queues);
    if (replicated) {
      // WAIT needs a replica: a second server, replicating the first.
      const replica = await redisServer();
      stack.use(replica);
      await replica.cli("REPLICAOF", "127.0.0.1", String(redis.port));
      await synced(() => replica.cli("INFO", "replication"));
      notes.push(`a replica on ${replica.port}`);
    }
    const pid = Number(
      (await redis.cli("INFO", "server")).match(/process_id:(\d+)/)?.[1],
    );
    fault = async () => {
      marks.fault = Date.now();
      Deno.kill(pid, "SIGSTOP");
      try {
        await until(marks.fault + HUNG_S * 1000);
      } finally {
        Deno.kill(pid, "SIGCONT");
        marks.promoted = Date.now();
      }
    };
  }
  if (replicated) url += "&durability=replicated";
  // A worker claims its queues in order, the first until it is empty:
  // server k lists them rotated by k, so that the failed queue (the first)
  // still holds tasks at the fault.
  const servers = [0, 1].map((k) =>
    server(url, {
      concurrentTasks: 20,
      taskQueues: [...queues.slice(k), ...queues.slice(0, k)].join(","),
      logLevel: LOG_LEVEL,
    })
  );
  for (const s of servers) stack.defer(() => s.stop().then(() => undefined));
  const start = Date.now();
  {
    await using api = await producer(url);
    await workersUp(api, 2, servers);
    marks.start = Date.now();
    await ledger.queue(api, LOAD, { lag: LAG_MS / 1000, queues });
  }
  const third = Math.round(LOAD / 3);
  if (!await ledger.drained(third, CAP)) {
    throw new Error(
      `${name}: ${third} tasks not done in ${CAP} s; the servers logged:\n` +
        servers.map((s) => s.log()).join("\n"),
    );
  }
  await fault();
  const done = await ledger.drained(
    LOAD,
    Math.max(1, CAP - (Date.now() - start) / 1000),
  );
  const completions = await ledger.read();
  const { lost, twice } = await ledger.tally(LOAD);
  await Promise.all(servers.map((s) => s.stop()));
  if (LOGS) {
    await Deno.mkdir(LOGS, { recursive: true });
    const times = Object.entries(marks).map(([k, v]) =>
      `${k} ${new Date(v).toISOString()}`
    );
    await Deno.writeTextFile(`${LOGS}/${name}.marks`, times.join("\n") + "\n");
    await Deno.copyFile(ledger.path, `${LOGS}/${name}.ledger`);
    for (const [k, s] of servers.entries()) {
      await Deno.writeTextFile(`${LOGS}/${name}-server${k}.log`, s.log());
    }
  }
  const failed = completions.filter((c) =>
    failedQueues.has(ledger.queueOf(c.i)!)
  );
  // A job that began within CLAIMED_BEFORE_MS of the fault was claimed
  // before it (the reply was on its way).
  const first = firstCompletionAfter(failed, marks.fault + CLAIMED_BEFORE_MS);
  const firstAny = firstCompletionAfter(
    completions,
    marks.fault + CLAIMED_BEFORE_MS,
  );
  // None of the failed server's queues can be claimed from between the
  // fault and the promotion (or SIGCONT).
  const firstRecovered = firstCompletionAfter(failed, marks.promoted);
  const last = Math.max(...completions.map(({ ms }) => ms));
  const gap = longestGap(completions.map(({ ms }) => ms));
  const gapFailed = longestGap(failed.map(({ ms }) => ms));
  const recoveryTarget = kind === "hung" ? 1 : 2;
  const requeued = servers.flatMap((s) => [
    ...s.log().matchAll(/Expired leases: (\d+) tasks queued again/g),
  ]).reduce((sum, m) => sum + Number(m[1]), 0);
  const duration = done ? span(marks.start, last) : null;
  const figures: FailoverFigures = {
    kind,
    durability,
    lost: lost.length,
    twice: twice.length,
    faultToFirst: span(marks.fault, first),
    faultToFirstAny: span(marks.fault, firstAny),
    recoveryToFirst: span(marks.promoted, firstRecovered),
    recoveryTarget,
    longestGap: gap.ms / 1000,
    longestGapFailed: gapFailed.ms / 1000,
    duration,
    perSecond: duration ? LOAD / duration : null,
    done,
    requeued,
    restarted: marks.restarted !== undefined,
  };
  failoverRuns.push(figures);
  const recovery = kind === "hung" ? "SIGCONT" : "promotion";
  const met = done && lost.length === 0 &&
    figures.recoveryToFirst !== null &&
    figures.recoveryToFirst <= recoveryTarget;
  const what = kind === "cluster"
    ? `Cluster (3 × 2 nodes): the primary of 1 of 3 queues SIGKILLed`
    : kind === "sentinel"
    ? "Sentinel: the primary SIGKILLed"
    : `One server hung (SIGSTOP) ${HUNG_S} s, then SIGCONT`;
  const outages = outageLines(servers);
  const leaseLost = logCounts(servers).lease_lost_warnings;
  return {
    scenario: `${what}, ${durability} durability (2 × 20, ${LOAD} tasks of ` +
      `${LAG_MS} ms, at ${third} done)`,
    figure: `${recovery} ${s2(marks.promoted - marks.fault)} s after the ` +
      `fault; first completion ${secs(figures.faultToFirst)} after the ` +
      `fault, ${secs(figures.recoveryToFirst)} after the ${recovery}; ` +
      `longest gap ${s2(gapFailed.ms)} s; ${
        done
          ? `all done ${s1(duration! * 1000)} s, ${
            figures.perSecond!.toFixed(0)
          }/s`
          : `not done in ${CAP} s (${
            new Set(completions.map(({ i }) => i)).size
          }/${LOAD})`
      }`,
    target: `≤ ${recoveryTarget} s after the ${recovery}`,
    met,
    lost: lostText(lost),
    twice: twice.length === 0
      ? "0"
      : `${twice.length} (${leaseLost} outcomes refused: lease lost)`,
    json: {
      durability,
      tasks: LOAD,
      lag_ms: LAG_MS,
      notes,
      promotion_s: span(marks.fault, marks.promoted),
      all_agree_s: span(marks.fault, marks.agreed),
      restarted_s: span(marks.fault, marks.restarted),
      synced_s: span(marks.fault, marks.synced),
      fault_to_first_s: figures.faultToFirst,
      fault_to_first_any_queue_s: figures.faultToFirstAny,
      recovery_to_first_s: figures.recoveryToFirst,
      synced_to_first_s: span(marks.synced, firstRecovered),
      longest_gap_s: gap.ms / 1000,
      longest_gap_from_s: span(marks.fault, gap.from),
      longest_gap_failed_s: gapFailed.ms / 1000,
      longest_gap_failed_from_s: span(marks.fault, gapFailed.from),
      fault_at_s: span(marks.start, marks.fault),
      all_done_s: duration,
      completions_per_s: figures.perSecond,
      lost: lost.length,
      run_twice: twice.length,
      requeued_expired_leases: requeued,
      outage_lines: outages.length,
      outage_sample: outages.slice(0, 12),
      ...logCounts(servers),
    },
  };
}

/** The failover runs side by side: default and replicated durability. */
function failoverTable(): string {
  const kinds = [...new Set(failoverRuns.map((r) => r.kind))];
  const lines = [
    "| fault | durability | lost | run twice | fault → first | " +
    "promotion/SIGCONT → first (target) | longest gap (failed queues; all) | " +
    "all done | completions/s | queued again by reclaims |",
    "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
  ];
  for (const kind of kinds) {
    for (const r of failoverRuns.filter((r) => r.kind === kind)) {
      const ok = r.recoveryToFirst !== null &&
        r.recoveryToFirst <= r.recoveryTarget;
      lines.push(
        `| ${kind} | ${r.durability}${
          r.restarted ? " (killed node restarted after the promotion)" : ""
        } | ${r.lost} | ${r.twice} | ${secs(r.faultToFirst)}${
          kind === "cluster" ? ` (any queue ${secs(r.faultToFirstAny)})` : ""
        } | ${secs(r.recoveryToFirst)} (≤ ${r.recoveryTarget} s${
          ok ? "" : ", **missed**"
        }) | ${r.longestGapFailed.toFixed(2)} s; ${
          r.longestGap.toFixed(2)
        } s | ${
          r.duration === null ? "not done" : `${r.duration.toFixed(1)} s`
        } | ${
          r.perSecond === null ? "-" : r.perSecond.toFixed(0)
        } | ${r.requeued} |`,
      );
    }
  }
  return lines.join("\n");
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
    ...(["cluster", "sentinel", "hung"] as const).flatMap((kind) =>
      DURABILITIES.map((durability): [string, () => Promise<Row>] => [
        kind,
        () => failover(dir, kind, durability),
      ])
    ),
  ];
  for (const [name, run] of scenarios) {
    if (!ONLY.includes(name)) continue;
    console.error(`bench:faults: ${name}... (${new Date().toISOString()})`);
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
if (failoverRuns.length > 0) {
  console.log(
    `\nFailover under load (${LOAD} tasks of ${LAG_MS} ms, 2 servers × 20; ` +
      "first completions of the failed server's queues, of tasks begun " +
      "after the fault):\n",
  );
  console.log(failoverTable());
}
