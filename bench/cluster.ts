/**
 * pq on a Redis Cluster, and what `durability=replicated` costs
 * (`deno task bench:cluster`): three measures, each printed as a table.
 *
 *   deno task bench:cluster                         # everything, full size
 *   ONLY=latency ROUNDS=3 TASKS=100 deno task bench:cluster   # a quick run
 *
 * 1. **No queue left behind** (`latency`): queue-to-start latency of a
 *    worker consuming 3 queues, tasks queued one at a time with a random
 *    20–80 ms gap (the worker is idle each time), the queue chosen in
 *    rotation: (a) on a single redis-server; (b) on a 6-node Cluster (3
 *    primaries, 3 replicas), the 3 queues on 3 different primaries; (c) on
 *    the Cluster, the 3 queues sharing one hash tag (`{app}.a`, `{app}.b`,
 *    `{app}.c`). The latency is from just before the producer's queue call
 *    (`api.tasks.queue`, its reply included) to the job's first line (the
 *    job `bench.cluster.stamp` below returns its wall clock,
 *    `performance.timeOrigin + performance.now()`, the producer reads the
 *    same clock). Two consumers, each a process of its own:
 *    - `server`: a pq server with default settings (`deno run -A cli.ts
 *      --task-queues <the 3> --task-paths bench/cluster.ts`: an arbiter and
 *      one worker process, which consumes the host's local queue too, so 4
 *      queues);
 *    - `store`: the store API alone, as the consumer drives it (claim; when
 *      it found nothing, waitForTasks; then claim again), exactly the 3
 *      queues (`deno run -A bench/cluster.ts consume <url> <queues>`); it
 *      says when each wait returned and each claim did, so the latency
 *      splits into wake-up (queued → wait returned) and claim (wait
 *      returned → claim returned);
 *    - `store-parallel` ((b) and (c) only): the same, but its claims, which
 *      on a Cluster go one queue a script, one after the other, are sent at
 *      once (one `claim` a queue, in parallel): the prototype of a change,
 *      to see what the claim's round trips cost.
 *    Every run queues a few warm-up tasks first (connections, scripts),
 *    not counted. ROUNDS rounds, each running every setup × consumer once
 *    in a rotated order, with the same gaps (a seeded generator per round).
 *    Per run: p50 and p95 of TASKS tasks; the table gives the medians over
 *    the rounds (min–max) and the ratio to (a) of the same consumer (median
 *    of the per-round ratios).
 * 2. **Idle cost** (`idle`): commands per second an idle pq server (default
 *    settings, consuming the 3 queues of (b)) sends, from INFO
 *    commandstats deltas of every node over IDLE_SECONDS (20) (less the
 *    bench's own INFO), by command, on the Cluster and on a single server,
 *    less the same span measured first with no pq. Replication's own
 *    traffic (each replica's `REPLCONF ACK` every second on its primary,
 *    the primary's `PING` every 10 s on its replica) is left out, and shown
 *    apart. MONITOR on every primary meanwhile gives what pq sent (a script
 *    call as one command; commandstats also counts the commands a script
 *    runs, and on the replicas the writes replicated to them).
 * 3. **Durability cost** (`durability`): a primary and its replica (two
 *    redis-servers, the second made a replica by REPLICAOF); with and
 *    without `&durability=replicated` in the URL of both producer and
 *    server, in the same rounds (the order alternating): enqueue SERIAL
 *    tasks one at a time, each awaited; enqueue N in batches of 1000
 *    (`queueMany`) into a paused queue; then resume it and drain the N
 *    no-op tasks with a pq server of one process × 20 concurrent tasks
 *    (`--workers 0 --concurrent-tasks 20`), from the resume to the last
 *    `timeEnded` of their records (all checked SUCCESS). Medians over the
 *    rounds, and the ratio replicated ÷ async (median of per-round
 *    ratios).
 *
 * Environment: ONLY (latency,idle,durability), ROUNDS (5), TASKS (300 a
 * latency run), CONSUMERS (server,store,store-parallel), IDLE_SECONDS (20),
 * N (10000
 * drained), SERIAL (2000 queued one at a time). Every redis-server and pq
 * process started is stopped at the end, on error and on Ctrl-C. Each
 * result is also printed as a JSON line; the header line names the commit
 * measured (COMMIT when set: a tree exported by `git archive` is no
 * checkout) and the files under src/ changed in the working tree then.
 * @module
 */
import { job, PulsarQueue, TaskStatus } from "../mod.ts";
import type { JobClass } from "../mod.ts";
import { RedisStore } from "../src/store/redis/redis_store.ts";
import type { Claim } from "../src/store/store.ts";
import { type RedisServer, startRedis } from "../tests/_redis.ts";
import {
  type RedisCluster,
  startRedisCluster,
} from "../tests/_redis_cluster.ts";
import { serverArgs } from "../tests/_server.ts";
import {
  commandStats,
  killGroup,
  monitor,
  perSecond,
} from "./_redis_monitor.ts";

/** The wall clock in ms, below the ms: the same in every process here. */
const now = () => performance.timeOrigin + performance.now();

/** The latency bench's job: when it began, on the wall clock ({@link now}). */
export const stamp: JobClass = job(
  { name: "bench.cluster.stamp" },
  () => ({ at: now() }),
);

const SELF = new URL(import.meta.url).pathname;
const ROOT = new URL("..", import.meta.url).pathname;
const CLI = new URL("../cli.ts", import.meta.url).pathname;
const NOOP_JOBS = new URL("./jobs/noop.ts", import.meta.url).pathname;
const NAMESPACE = "pq";
const STAMP = "bench.cluster.stamp";

const sleep = (ms: number) => new Promise((ok) => setTimeout(ok, ms));
const log = (msg: string) => console.error(`[bench:cluster] ${msg}`);

// ---------------------------------------------------------------------------
// Figures.

function median(values: number[]): number {
  const s = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** The nearest-rank percentile `q` (0..1) of `values`. */
function percentile(values: number[], q: number): number {
  const s = [...values].sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))];
}

const f2 = (x: number) => Number.isFinite(x) ? x.toFixed(2) : "—";
const f0 = (x: number) =>
  Number.isFinite(x) ? Math.round(x).toLocaleString("en-US") : "—";
const r3 = (x: number) => Math.round(x * 1000) / 1000;

/** median (min–max) of `values`, by `fmt`. */
function spread(values: number[], fmt = f2): string {
  const s = values.filter(Number.isFinite);
  if (s.length === 0) return "—";
  return `${fmt(median(s))} (${fmt(Math.min(...s))}–${fmt(Math.max(...s))})`;
}

/** A Markdown table. */
function table(head: string[], rows: string[][]): string {
  return [
    `| ${head.join(" | ")} |`,
    `|${head.map((_, i) => i === 0 ? "---" : "---:").join("|")}|`,
    ...rows.map((row) => `| ${row.join(" | ")} |`),
  ].join("\n");
}

/** A generator of numbers in [0, 1) from a seed (mulberry32). */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// ---------------------------------------------------------------------------
// Processes: every redis-server and pq process is tracked, so that an error
// or Ctrl-C still stops them all.

const liveGroups = new Set<number>();
const liveStops = new Set<() => void>();

function killEverythingSync(): void {
  for (const pid of liveGroups) killGroup(pid, "SIGKILL");
  liveGroups.clear();
  for (const stop of liveStops) stop();
  liveStops.clear();
}

/** A child process in a process group of its own, its output kept. */
class Child {
  readonly child: Deno.ChildProcess;
  readonly pid: number;
  readonly status: Promise<Deno.CommandStatus>;
  exited = false;
  #stderr = "";
  #lines: Array<(line: string) => void> = [];

  constructor(args: string[], onLine?: (line: string) => void) {
    this.child = new Deno.Command(Deno.execPath(), {
      args,
      cwd: ROOT,
      detached: true,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.pid = this.child.pid;
    liveGroups.add(this.pid);
    if (onLine) this.#lines.push(onLine);
    const reading = Promise.all([
      this.#readLines(this.child.stdout),
      this.#keep(this.child.stderr),
    ]);
    this.status = this.child.status.then(async (status) => {
      this.exited = true;
      await reading;
      return status;
    });
  }

  async #readLines(stream: ReadableStream<Uint8Array>): Promise<void> {
    const decoder = new TextDecoder();
    let rest = "";
    for await (const chunk of stream) {
      rest += decoder.decode(chunk, { stream: true });
      const lines = rest.split("\n");
      rest = lines.pop()!;
      for (const line of lines) for (const on of this.#lines) on(line);
    }
  }

  async #keep(stream: ReadableStream<Uint8Array>): Promise<void> {
    const decoder = new TextDecoder();
    for await (const chunk of stream) {
      this.#stderr += decoder.decode(chunk, { stream: true });
      if (this.#stderr.length > 100_000) {
        this.#stderr = this.#stderr.slice(-50_000);
      }
    }
  }

  /** What it wrote to stderr (the last 50 kB at least). */
  stderr(): string {
    return this.#stderr;
  }

  /** SIGTERM, then SIGKILL of its group after `seconds`; resolves once gone. */
  async stop(seconds = 10): Promise<void> {
    if (!liveGroups.has(this.pid)) {
      await this.status;
      return;
    }
    killGroup(this.pid, "SIGTERM");
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      this.status,
      new Promise((ok) => timer = setTimeout(ok, seconds * 1000)),
    ]);
    clearTimeout(timer);
    killGroup(this.pid, "SIGKILL");
    liveGroups.delete(this.pid);
    await this.status;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}

/** A pq server: `deno run -A cli.ts <flags of options>`. */
function pqServer(options: Record<string, string | number>): Child {
  return new Child([
    "run",
    "-A",
    CLI,
    ...serverArgs({ logLevel: "warning", ...options }),
  ]);
}

type Producer = Awaited<ReturnType<ReturnType<PulsarQueue["api"]>["start"]>>;

async function producer(dataStore: string, taskPaths: string[]) {
  return await new PulsarQueue({ dataStore, taskPaths }).api().start();
}

/** Resolves once `n` workers beat; fails (with their stderr) after 60 s. */
async function workersUp(api: Producer, n: number, s: Child): Promise<void> {
  const deadline = Date.now() + 60_000;
  while ((await api.workers()).length < n) {
    if (Date.now() > deadline || s.exited) {
      await s.stop(1);
      throw new Error(`the pq server did not start:\n${s.stderr()}`);
    }
    await sleep(50);
  }
}

/** A private redis-server, tracked. */
async function redisServer(): Promise<RedisServer> {
  const redis = await startRedis();
  liveStops.add(redis.stopSync);
  return {
    ...redis,
    async [Symbol.asyncDispose]() {
      liveStops.delete(redis.stopSync);
      await redis[Symbol.asyncDispose]();
    },
  };
}

/** A private 6-node Redis Cluster, tracked. */
async function redisCluster(): Promise<RedisCluster> {
  const cluster = await startRedisCluster();
  liveStops.add(cluster.stopSync);
  return {
    ...cluster,
    async [Symbol.asyncDispose]() {
      liveStops.delete(cluster.stopSync);
      await cluster[Symbol.asyncDispose]();
    },
  };
}

/** Where a measure runs: a URL, how to empty it, its nodes' ports. */
interface Setup {
  label: string;
  url: string;
  queues: string[];
  /** Every node: its port, and whether it is a primary. */
  nodes: Array<{ port: number; primary: boolean }>;
  cli(port: number, ...args: string[]): Promise<string>;
}

async function flush(setup: Setup): Promise<void> {
  for (const node of setup.nodes) {
    if (node.primary) await setup.cli(node.port, "FLUSHALL");
  }
}

// ---------------------------------------------------------------------------
// 1. Latency.

/** When each task began, by id, as a consumer says. */
interface Start {
  /** The job's (server) or the claim's (store) start, wall clock ms. */
  started: number;
  /** When the wait that preceded it returned (store consumer only). */
  woke?: number;
}

/** A consumer of the latency runs, started and ready. */
interface Consumer extends AsyncDisposable {
  /** The starts of `ids` (resolves once all are known; 30 s at most). */
  starts(ids: string[]): Promise<Map<string, Start>>;
}

/** A pq server with default settings, consuming `queues`. */
async function serverConsumer(
  setup: Setup,
  api: Producer,
  queues: string[],
): Promise<Consumer> {
  const s = pqServer({
    dataStore: setup.url,
    taskQueues: queues.join(","),
    taskPaths: SELF,
  });
  try {
    await workersUp(api, 1, s);
  } catch (error) {
    await s.stop(1);
    throw error;
  }
  return {
    async starts(ids) {
      const found = new Map<string, Start>();
      const deadline = Date.now() + 30_000;
      while (found.size < ids.length && Date.now() < deadline) {
        const left = ids.filter((id) => !found.has(id));
        const tasks = await Promise.all(left.map((id) => api.tasks.get(id)));
        tasks.forEach((task, k) => {
          if (task?.status !== TaskStatus.SUCCESS) return;
          found.set(left[k], {
            started: (task.result as { at: number }).at,
          });
        });
        if (found.size < ids.length) await sleep(50);
      }
      return found;
    },
    [Symbol.asyncDispose]: () => s.stop(),
  };
}

/** `bench/cluster.ts consume`: the store API as the consumer drives it. */
async function storeConsumer(
  setup: Setup,
  queues: string[],
  parallel: boolean,
): Promise<Consumer> {
  const found = new Map<string, Start>();
  const ready = Promise.withResolvers<void>();
  const s = new Child(
    [
      "run",
      "-A",
      SELF,
      "consume",
      setup.url,
      queues.join(","),
      parallel ? "parallel" : "serial",
    ],
    (line) => {
      if (!line.startsWith("{")) return;
      const entry = JSON.parse(line);
      if (entry.ready) ready.resolve();
      else found.set(entry.id, { started: entry.started, woke: entry.woke });
    },
  );
  s.status.then(() =>
    ready.reject(new Error(`consumer exited: ${s.stderr()}`))
  );
  try {
    await ready.promise;
  } catch (error) {
    await s.stop(1);
    throw error;
  }
  return {
    async starts(ids) {
      const deadline = Date.now() + 30_000;
      while (ids.some((id) => !found.has(id)) && Date.now() < deadline) {
        await sleep(20);
      }
      return found;
    },
    [Symbol.asyncDispose]: () => s.stop(),
  };
}

/** The store consumer's process: prints a JSON line per task it started. */
async function consumeMain(
  url: string,
  queues: string[],
  parallel: boolean,
): Promise<void> {
  const store = await RedisStore.open(url, {
    serializer: "json",
    resultTtl: 3600,
  });
  const request = {
    queues,
    max: 10,
    worker: `bench-${Deno.pid}`,
    node: "bench",
    leaseSeconds: 60,
    waitSeconds: 30,
  };
  const finish = (claims: Claim[]) =>
    store.finish(claims.map((claim) => ({
      id: claim.id,
      token: claim.token,
      task: {
        ...claim.task!,
        status: TaskStatus.SUCCESS,
        timeEnded: Date.now() / 1000,
      },
    })));
  const say = (claims: Claim[], woke: number, started: number) => {
    for (const claim of claims) {
      console.log(JSON.stringify({ id: claim.id, woke, started }));
    }
  };
  // The prototype of a change (store-parallel): on a Cluster, where a claim
  // sends one script a queue, one after the other, the queues are claimed
  // at once, one claim each (each may take `max`: a prototype).
  const claim = parallel && url.includes(",")
    ? async () =>
      (await Promise.all(
        queues.map((queue) => store.claim({ ...request, queues: [queue] })),
      )).flat()
    : () => store.claim(request);
  let woke = NaN;
  let first = true;
  for (;;) {
    const claims = await claim();
    const started = now();
    if (first) {
      // Registered as a waiter (single server): tasks may come.
      console.log(JSON.stringify({ ready: true }));
      first = false;
    }
    if (claims.length > 0) {
      say(claims, woke, started);
      await finish(claims);
      continue;
    }
    const handed = await store.waitForTasks(queues, request.waitSeconds);
    woke = now();
    if (handed.length > 0) {
      say(handed, woke, woke);
      await finish(handed);
    }
  }
}

interface LatencyRun {
  setup: string;
  consumer: string;
  round: number;
  p50: number;
  p95: number;
  p99: number;
  mean: number;
  /** Store consumer: p50 of queued → wait returned, wait → claim returned. */
  wake_p50?: number;
  claim_p50?: number;
  tasks: number;
  missing: number;
  negative: number;
}

const WARMUP = 3;

async function latencyRun(
  setup: Setup,
  consumerKind: string,
  gaps: number[],
  round: number,
): Promise<LatencyRun> {
  await flush(setup);
  const queues = setup.queues;
  await using api = await producer(setup.url, [SELF]);
  await using consumer = consumerKind === "server"
    ? await serverConsumer(setup, api, queues)
    : await storeConsumer(setup, queues, consumerKind === "store-parallel");
  const queueOne = async (i: number) => {
    const t0 = now();
    const future = api.tasks.queue(STAMP, {}, {
      queue: queues[i % queues.length],
      callback: false,
    });
    await future;
    return { id: future.id, t0 };
  };
  // Warm-up: every queue's connections and scripts.
  const warm: string[] = [];
  for (let i = 0; i < WARMUP * queues.length; i++) {
    warm.push((await queueOne(i)).id);
    await sleep(30);
  }
  await consumer.starts(warm);
  const sent: Array<{ id: string; t0: number }> = [];
  for (const gap of gaps) {
    await sleep(gap);
    sent.push(await queueOne(sent.length));
  }
  const starts = await consumer.starts(sent.map(({ id }) => id));
  const latencies: number[] = [];
  const wakes: number[] = [];
  const claims: number[] = [];
  let missing = 0;
  for (const { id, t0 } of sent) {
    const start = starts.get(id);
    if (!start) {
      missing++;
      continue;
    }
    latencies.push(start.started - t0);
    if (start.woke !== undefined && Number.isFinite(start.woke)) {
      wakes.push(start.woke - t0);
      claims.push(start.started - start.woke);
    }
  }
  return {
    setup: setup.label,
    consumer: consumerKind,
    round,
    p50: r3(percentile(latencies, 0.5)),
    p95: r3(percentile(latencies, 0.95)),
    p99: r3(percentile(latencies, 0.99)),
    mean: r3(latencies.reduce((a, b) => a + b, 0) / latencies.length),
    ...(consumerKind !== "server" && {
      wake_p50: r3(percentile(wakes, 0.5)),
      claim_p50: r3(percentile(claims, 0.5)),
    }),
    tasks: latencies.length,
    missing,
    negative: latencies.filter((ms) => ms < 0).length,
  };
}

async function latency(
  single: Setup,
  spread3: Setup,
  tagged: Setup,
): Promise<string> {
  const setups = [single, spread3, tagged];
  // The parallel claims differ on a Cluster only: (a) is the store's.
  const setupsOf = (consumer: string) =>
    consumer === "store-parallel" ? [spread3, tagged] : setups;
  const baseOf = (consumer: string) =>
    consumer === "store-parallel" ? "store" : consumer;
  const runs: Array<[Setup, string]> = CONSUMERS.flatMap((c) =>
    setupsOf(c).map((s): [Setup, string] => [s, c])
  );
  const results: LatencyRun[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const random = seeded(1000 + round);
    const gaps = Array.from({ length: TASKS }, () => 20 + 60 * random());
    const k = round % runs.length;
    const order = [...runs.slice(k), ...runs.slice(0, k)];
    for (const [setup, consumer] of order) {
      log(`latency round ${round + 1}/${ROUNDS}: ${setup.label}, ${consumer}`);
      const run = await latencyRun(setup, consumer, gaps, round + 1);
      console.log(JSON.stringify({ measure: "latency", ...run }));
      results.push(run);
    }
  }
  const rows: string[][] = [];
  for (const consumer of CONSUMERS) {
    const base = results.filter((r) =>
      r.consumer === baseOf(consumer) && r.setup === single.label
    );
    for (const setup of setupsOf(consumer)) {
      const mine = results.filter((r) =>
        r.consumer === consumer && r.setup === setup.label
      );
      const ratio = (key: "p50" | "p95") =>
        median(mine.map((r) => {
          const b = base.find((x) => x.round === r.round);
          return b ? r[key] / b[key] : NaN;
        }));
      rows.push([
        `${setup.label}, ${consumer}`,
        spread(mine.map((r) => r.p50)),
        spread(mine.map((r) => r.p95)),
        spread(mine.map((r) => r.p99)),
        setup === single ? "1" : f2(ratio("p50")),
        setup === single ? "1" : f2(ratio("p95")),
        consumer === "server" ? "" : f2(median(mine.map((r) => r.wake_p50!))),
        consumer === "server" ? "" : f2(median(mine.map((r) => r.claim_p50!))),
        String(mine.reduce((a, r) => a + r.missing + r.negative, 0)),
      ]);
    }
  }
  return [
    `### 1. Queue-to-start latency, ms (${TASKS} tasks a run, gaps 20–80 ms, ` +
    `queues in rotation; median (min–max) over ${ROUNDS} rounds)`,
    "",
    table([
      "setup, consumer",
      "p50",
      "p95",
      "p99",
      "p50 ÷ (a)",
      "p95 ÷ (a)",
      "wake p50",
      "claim p50",
      "missing/neg.",
    ], rows),
    "",
    "Ratios: medians of the per-round ratios to (a) with the same consumer. " +
    "wake: queued → the wait returned; claim: the wait returned → the claim " +
    "returned (a task handed over on a single server starts as the wait " +
    "returns: claim 0).",
  ].join("\n");
}

// ---------------------------------------------------------------------------
// 2. Idle cost.

const sum = (m: Map<string, number>) =>
  [...m.values()].reduce((a, b) => a + b, 0);

function add(into: Map<string, number>, from: Map<string, number>, k = 1) {
  for (const [name, n] of from) into.set(name, (into.get(name) ?? 0) + k * n);
}

/** Commands of every node over `seconds`, by role: commandstats and MONITOR. */
async function window(setup: Setup, seconds: number) {
  const before = await Promise.all(
    setup.nodes.map(async (n) =>
      commandStats(await setup.cli(n.port, "INFO", "commandstats"))
    ),
  );
  const watches = await Promise.all(setup.nodes.map((n) => monitor(n.port)));
  await sleep(seconds * 1000);
  const seen = await Promise.all(watches.map((w) => w.stop()));
  const after = await Promise.all(
    setup.nodes.map(async (n) =>
      commandStats(await setup.cli(n.port, "INFO", "commandstats"))
    ),
  );
  const byRole = () => ({
    primary: new Map<string, number>(),
    replica: new Map<string, number>(),
  });
  const stats = byRole();
  /** Replication's own: REPLCONF ACK each second, the primary's PING. */
  const replication = new Map<string, number>();
  /** Commands clients sent to primaries (scripts as one). */
  const sent = new Map<string, number>();
  /** Commands scripts ran on primaries. */
  const inside = new Map<string, number>();
  setup.nodes.forEach((node, i) => {
    const role = node.primary ? "primary" : "replica";
    for (const [name, calls] of after[i]) {
      if (name === "monitor") continue;
      // The INFO of `before` is counted in `after`.
      const n = calls - (before[i].get(name) ?? 0) - (name === "info" ? 1 : 0);
      if (n <= 0) continue;
      const own = name === "replconf" || (!node.primary && name === "ping");
      add(own ? replication : stats[role], new Map([[name, n]]));
    }
    // A replica's MONITOR shows the writes replicated to it: not sent.
    if (!node.primary) return;
    add(sent, seen[i].sent);
    add(inside, seen[i].inside);
  });
  return { stats, replication, sent, inside };
}

type Window = Awaited<ReturnType<typeof window>>;

async function idleOn(setup: Setup): Promise<{ base: Window; pq: Window }> {
  await flush(setup);
  log(`idle: ${setup.label}, ${IDLE_SECONDS} s with no pq`);
  const base = await window(setup, IDLE_SECONDS);
  const s = pqServer({
    dataStore: setup.url,
    taskQueues: setup.queues.join(","),
    taskPaths: SELF,
  });
  try {
    {
      await using api = await producer(setup.url, [SELF]);
      await workersUp(api, 1, s);
    }
    // Start-up and the producer's goodbye are over.
    await sleep(5000);
    log(`idle: ${setup.label}, ${IDLE_SECONDS} s with an idle pq server`);
    const pq = await window(setup, IDLE_SECONDS);
    return { base, pq };
  } finally {
    await s.stop();
  }
}

async function idle(single: Setup, spread3: Setup): Promise<string> {
  const rows: string[][] = [];
  const seconds = IDLE_SECONDS;
  for (const setup of [spread3, single]) {
    const { base, pq } = await idleOn(setup);
    const net = new Map<string, number>();
    const primaries = new Map<string, number>();
    add(primaries, pq.stats.primary);
    add(primaries, base.stats.primary, -1);
    const replicas = new Map<string, number>();
    add(replicas, pq.stats.replica);
    add(replicas, base.stats.replica, -1);
    add(net, primaries);
    add(net, replicas);
    const sentNet = new Map<string, number>();
    add(sentNet, pq.sent);
    add(sentNet, base.sent, -1);
    const line = {
      measure: "idle",
      setup: setup.label,
      seconds,
      pq_commands_per_s: r3(sum(net) / seconds),
      pq_sent_per_s: r3(sum(sentNet) / seconds),
      inside_scripts_per_s: r3(sum(pq.inside) / seconds),
      by_command: Object.fromEntries(net),
      on_primaries: Object.fromEntries(primaries),
      on_replicas: Object.fromEntries(replicas),
      sent: Object.fromEntries(sentNet),
      inside_scripts: Object.fromEntries(pq.inside),
      replication_own: Object.fromEntries(pq.replication),
      without_pq: {
        primaries: Object.fromEntries(base.stats.primary),
        replicas: Object.fromEntries(base.stats.replica),
        replication_own: Object.fromEntries(base.replication),
      },
    };
    console.log(JSON.stringify(line));
    const all = sum(net) / seconds;
    const sentPerS = sum(sentNet) / seconds;
    const yes = (x: number) => x <= 1 ? "yes" : "**no**";
    const hasReplicas = setup.nodes.some((n) => !n.primary);
    rows.push([
      setup.label,
      `${f2(sentPerS)}: ${perSecond(sentNet, seconds)}`,
      `${f2(sum(primaries) / seconds)}: ${perSecond(primaries, seconds)}`,
      hasReplicas
        ? `${f2(sum(replicas) / seconds)}: ${perSecond(replicas, seconds)}`
        : "(none)",
      f2(all),
      `${yes(sentPerS)} / ${yes(all)}`,
      `${perSecond(base.stats.primary, seconds)}${
        hasReplicas
          ? `; replicas: ${perSecond(base.stats.replica, seconds)}`
          : ""
      }`,
      hasReplicas
        ? `${perSecond(base.replication, seconds)} / ${
          perSecond(pq.replication, seconds)
        }`
        : "none",
    ]);
  }
  return [
    `### 2. Idle pq server (default settings, 3 queues), commands/s over ` +
    `${seconds} s, less the same span without pq`,
    "",
    table([
      "setup",
      "sent by pq (MONITOR: its commands, scripts as one)",
      "primaries (commandstats: with the commands its scripts run)",
      "replicas (commandstats: the writes replicated)",
      "all nodes (commandstats)",
      "≤ 1: sent / all nodes",
      "without pq (subtracted)",
      "replication's own, without / with pq (left out)",
    ], rows),
  ].join("\n");
}

// ---------------------------------------------------------------------------
// 3. Durability cost.

interface DurabilityRun {
  variant: string;
  round: number;
  enqueue_serial: number;
  enqueue_bulk: number;
  drain: number;
  drain_from_first_start: number;
  not_success: number;
}

async function durabilityRun(
  primary: RedisServer,
  variant: string,
  round: number,
): Promise<DurabilityRun> {
  await primary.cli("FLUSHALL");
  const url = primary.url(NAMESPACE) +
    (variant === "replicated" ? "&durability=replicated" : "");
  await using api = await producer(url, [NOOP_JOBS]);
  await using s = pqServer({
    dataStore: url,
    workers: 0,
    concurrentTasks: 20,
    taskQueues: "drain",
    taskPaths: NOOP_JOBS,
  });
  await workersUp(api, 1, s);
  await api.queues.pause("drain");
  // One by one, each awaited, in a queue no one consumes.
  let t = performance.now();
  for (let i = 0; i < SERIAL; i++) {
    await api.tasks.queue("noop", { i }, { queue: "serial", callback: false });
  }
  const serial = SERIAL / ((performance.now() - t) / 1000);
  const ids: string[] = [];
  t = performance.now();
  for (let at = 0; at < N; at += 1000) {
    const kwargs = Array.from(
      { length: Math.min(1000, N - at) },
      (_, k) => ({ i: at + k }),
    );
    const tasks = await api.tasks.queueMany("noop", kwargs, { queue: "drain" });
    for (const task of tasks) ids.push(task.id);
  }
  const bulk = N / ((performance.now() - t) / 1000);
  const resumed = Date.now() / 1000;
  await api.queues.resume("drain");
  const deadline = Date.now() + 300_000;
  for (;;) {
    const [stats] = await api.queues.stats(["drain"]);
    if (stats.ready + stats.running + stats.delayed === 0) break;
    if (Date.now() > deadline || s.exited) {
      throw new Error(`drain not done: ${JSON.stringify(stats)}`);
    }
    await sleep(100);
  }
  let ended = 0;
  let firstStart = Infinity;
  let notSuccess = 0;
  for (let at = 0; at < ids.length; at += 500) {
    const tasks = await Promise.all(
      ids.slice(at, at + 500).map((id) => api.tasks.get(id)),
    );
    for (const task of tasks) {
      if (task?.status !== TaskStatus.SUCCESS) {
        notSuccess++;
        continue;
      }
      ended = Math.max(ended, task.timeEnded ?? 0);
      firstStart = Math.min(firstStart, task.timeStarted ?? Infinity);
    }
  }
  return {
    variant,
    round,
    enqueue_serial: Math.round(serial),
    enqueue_bulk: Math.round(bulk),
    drain: Math.round(N / (ended - resumed)),
    drain_from_first_start: Math.round(N / (ended - firstStart)),
    not_success: notSuccess,
  };
}

async function durability(): Promise<string> {
  await using primary = await redisServer();
  await using replica = await redisServer();
  // At once: the first sync would wait 5 s for other replicas.
  await primary.cli("CONFIG", "SET", "repl-diskless-sync-delay", "0");
  await replica.cli("REPLICAOF", "127.0.0.1", String(primary.port));
  const deadline = Date.now() + 20_000;
  while (
    !(await replica.cli("INFO", "replication")).includes(
      "master_link_status:up",
    )
  ) {
    if (Date.now() > deadline) throw new Error("the replica did not sync");
    await sleep(50);
  }
  const variants = ["async", "replicated"];
  const results: DurabilityRun[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const order = round % 2 ? [...variants].reverse() : variants;
    for (const variant of order) {
      log(`durability round ${round + 1}/${ROUNDS}: ${variant}`);
      const run = await durabilityRun(primary, variant, round + 1);
      console.log(JSON.stringify({ measure: "durability", ...run }));
      results.push(run);
    }
  }
  const of = (variant: string) => results.filter((r) => r.variant === variant);
  const keys = [
    ["enqueue_serial", `enqueue one by one (${SERIAL}, each awaited)`],
    ["enqueue_bulk", `enqueue in batches of 1000 (${N})`],
    ["drain", `drain ${N} no-op tasks, 1 process × 20 (from resume)`],
    ["drain_from_first_start", "drain, from the first start"],
  ] as const;
  const rows = keys.map(([key, label]) => {
    const ratios = of("replicated").map((r) => {
      const a = of("async").find((x) => x.round === r.round);
      return a ? r[key] / a[key] : NaN;
    });
    return [
      label,
      spread(of("async").map((r) => r[key]), f0),
      spread(of("replicated").map((r) => r[key]), f0),
      f2(median(ratios)),
    ];
  });
  const failed = results.reduce((a, r) => a + r.not_success, 0);
  return [
    `### 3. durability=replicated (primary + 1 replica), tasks/s, median ` +
    `(min–max) over ${ROUNDS} rounds, order alternating`,
    "",
    table(["measure", "async", "replicated", "replicated ÷ async"], rows),
    "",
    `Tasks not SUCCESS after the drains: ${failed}.`,
  ].join("\n");
}

// ---------------------------------------------------------------------------

const ONLY = (Deno.env.get("ONLY") ?? "latency,idle,durability").split(",")
  .map((s) => s.trim());
const ROUNDS = Number(Deno.env.get("ROUNDS") ?? 5);
const TASKS = Number(Deno.env.get("TASKS") ?? 300);
const CONSUMERS = (Deno.env.get("CONSUMERS") ?? "server,store,store-parallel")
  .split(",")
  .map((s) => s.trim());
const IDLE_SECONDS = Number(Deno.env.get("IDLE_SECONDS") ?? 20);
const N = Number(Deno.env.get("N") ?? 10000);
const SERIAL = Number(Deno.env.get("SERIAL") ?? 2000);

async function git(...args: string[]): Promise<string> {
  const out = await new Deno.Command("git", {
    args,
    cwd: ROOT,
    stdout: "piped",
    stderr: "null",
  }).output();
  return new TextDecoder().decode(out.stdout).trimEnd();
}

async function main(): Promise<void> {
  Deno.addSignalListener("SIGINT", () => {
    killEverythingSync();
    Deno.exit(130);
  });
  // Outside a git checkout (an exported tree), COMMIT names what is measured.
  const commit = Deno.env.get("COMMIT") ??
    (await git("log", "-1", "--format=%h") || "unknown");
  const dirty = (await git("status", "--porcelain", "--", "src/")).split("\n")
    .filter(Boolean).map((l) => l.slice(3));
  const began = new Date();
  const sections: string[] = [];
  try {
    if (ONLY.includes("latency") || ONLY.includes("idle")) {
      await using redis = await redisServer();
      await using cluster = await redisCluster();
      const primaries = new Set(await cluster.primaries());
      const nodes = cluster.nodes.map((n) => ({
        port: n.port,
        primary: primaries.has(n.port),
      }));
      const distinct = await cluster.queuesOnDistinctPrimaries(3, "q");
      const single: Setup = {
        label: "(a) single server",
        url: redis.url(NAMESPACE),
        queues: distinct,
        nodes: [{ port: redis.port, primary: true }],
        cli: (_port, ...args) => redis.cli(...args),
      };
      const spread3: Setup = {
        label: "(b) cluster, 3 primaries",
        url: cluster.url(NAMESPACE),
        queues: distinct,
        nodes,
        cli: cluster.cli,
      };
      const tagged: Setup = {
        label: "(c) cluster, one hash tag",
        url: cluster.url(NAMESPACE),
        queues: ["{app}.a", "{app}.b", "{app}.c"],
        nodes,
        cli: cluster.cli,
      };
      if (ONLY.includes("latency")) {
        sections.push(await latency(single, spread3, tagged));
      }
      if (ONLY.includes("idle")) sections.push(await idle(single, spread3));
    }
    if (ONLY.includes("durability")) sections.push(await durability());
  } finally {
    killEverythingSync();
  }
  console.log(
    `\npq bench:cluster, ${began.toISOString().slice(0, 16)}Z, ` +
      `${navigator.hardwareConcurrency} cores, Deno ${Deno.version.deno}, ` +
      `pq at ${commit}${
        dirty.length ? ` (+ uncommitted: ${dirty.join(", ")})` : ""
      }\n`,
  );
  console.log(sections.join("\n\n"));
}

if (import.meta.main) {
  if (Deno.args[0] === "consume") {
    await consumeMain(
      Deno.args[1],
      Deno.args[2].split(","),
      Deno.args[3] === "parallel",
    );
  } else {
    await main();
  }
}
