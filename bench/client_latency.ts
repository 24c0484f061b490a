/**
 * What a Redis round trip costs through pq's own client (`RedisClient` of
 * `src/store/redis/connection.ts`: RESP2 on `Deno.connect`, the commands of
 * one event-loop turn in one write) and through ioredis (`npm:ioredis`,
 * which has Cluster and Sentinel support, on Deno's Node-compatibility
 * sockets), to decide whether pq should use ioredis for Redis Cluster and
 * Sentinel or grow its own client. Two private redis-servers, started here:
 * a plain one and a one-node Redis Cluster owning every slot. Prints a JSON
 * line naming the commit and the version of connection.ts measured, a JSON
 * line per client, test and round, then a Markdown table of the medians
 * over the rounds and the ratios pq / ioredis.
 *
 *   deno task bench:client                   # ROUNDS=5
 *   ROUNDS=7 deno task bench:client
 *   CLIENTS=pq,ioredis deno task bench:client
 *
 * Clients (CLIENTS, a comma list; all by default):
 *
 * - `pq`: `new RedisClient(clientAddress(url), 5)` on the plain server.
 * - `ioredis`: `new Redis(port, "127.0.0.1")` on the plain server.
 * - `ioredis-auto`: the same with `enableAutoPipelining: true` (the
 *   commands of one turn in one write, as pq's client does).
 * - `ioredis-cluster`: `new Redis.Cluster([{ host, port }])` on the
 *   one-node cluster.
 * - `pq-cluster`: pq's client on that cluster node.
 *
 * Tests; in a round, each test is cut into SLICES (10) slices, and the
 * clients take turns slice by slice (the order rotating each slice and each
 * round), so that all of them see the same moments of a noisy 2-core
 * machine; a client's figures of a round are over all its slices:
 *
 * - **sequential**: SEQUENTIAL (5,000) `PING`s, each awaited before the next
 *   is sent: p50 and p99 of the round trip, and PINGs a second.
 * - **pipelined**: PIPELINED (50,000) `EVALSHA`s of
 *   `return redis.call('INCR', KEYS[1])` over 100 keys of one hash tag,
 *   sent IN_FLIGHT (1,000) at a time without awaiting each, the next batch
 *   once all of a batch are answered: scripts a second.
 * - **idle**: a `PING` every 2 ms (a 2 ms timer, then the round trip) for
 *   IDLE_MS (2,000) ms: p50 and p99 of the round trip on a connection that
 *   is idle between commands, as a worker's mostly is.
 *
 * The table gives the median over the rounds of each figure, and, for each
 * pair (pq / ioredis), the median over the rounds of the round's ratio.
 *
 * Each client is connected and warmed up (200 PINGs, 2,000 EVALSHAs) before
 * the first round and kept for the whole run. A one-node cluster does not
 * know its own address (`CLUSTER SLOTS` names its node with an empty host),
 * and ioredis's Cluster then drops the node and reconnects for ever, with
 * no error: the bench sets `cluster-announce-ip 127.0.0.1` on it, as the
 * nodes of a real cluster learn their addresses from each other.
 *
 * Measured 2026-12-07 (Deno 2.9.6, ioredis 5.11.1, 2 cores shared with other
 * work, 3 runs of 5–7 rounds), pq / ioredis: sequential PING p50 0.91–0.96×,
 * PINGs a second 0.95–1.15× (a tie); pipelined EVALSHA 2.0–2.2× the
 * throughput (1.3–1.7× that of ioredis with auto-pipelining, 2.3–2.6× that
 * of ioredis's Cluster against pq's client on the cluster node); idle p50
 * 0.80–0.87×, idle p99 within the noise. ioredis ran under `npm:` with no
 * warning, its Cluster too once the node announced its address.
 * @module
 */
import { Cluster, Redis } from "ioredis";
import { RedisClient } from "../src/store/redis/connection.ts";
import {
  clientAddress,
  type RedisServer,
  startRedis,
} from "../tests/_redis.ts";

const ROUNDS = Number(Deno.env.get("ROUNDS") ?? 5);
const SEQUENTIAL = Number(Deno.env.get("SEQUENTIAL") ?? 5000);
const PIPELINED = Number(Deno.env.get("PIPELINED") ?? 50_000);
const IN_FLIGHT = Number(Deno.env.get("IN_FLIGHT") ?? 1000);
const IDLE_MS = Number(Deno.env.get("IDLE_MS") ?? 2000);
const IDLE_EVERY_MS = 2;
const SLICES = Number(Deno.env.get("SLICES") ?? 10);
const ALL_CLIENTS = [
  "pq",
  "ioredis",
  "ioredis-auto",
  "ioredis-cluster",
  "pq-cluster",
] as const;
type ClientName = typeof ALL_CLIENTS[number];
const CLIENTS = (Deno.env.get("CLIENTS") ?? ALL_CLIENTS.join(","))
  .split(",").map((s) => s.trim()).filter(Boolean) as ClientName[];
for (const name of CLIENTS) {
  if (!ALL_CLIENTS.includes(name)) {
    throw new Error(`Unknown client ${name}: one of ${ALL_CLIENTS.join(",")}`);
  }
}
const SCRIPT = "return redis.call('INCR', KEYS[1])";
const KEYS = Array.from({ length: 100 }, (_, i) => `{pqbench}:k${i}`);

/** One client under test, whatever its library. */
interface Subject {
  name: ClientName;
  ping(): Promise<unknown>;
  evalsha(sha: string, key: string): Promise<unknown>;
  close(): Promise<void>;
}

/** One test's figures for one client in one round. */
interface Figures {
  p50Ms?: number;
  p99Ms?: number;
  opsPerSec: number;
}

const TESTS = ["sequential", "pipelined", "idle"] as const;
type TestName = typeof TESTS[number];

await using plain = await startRedis();
await using cluster = await startRedis({ cluster: true });
await cluster.cli("CONFIG", "SET", "cluster-announce-ip", "127.0.0.1");
for (let i = 0;; i++) {
  if ((await cluster.cli("CLUSTER", "SLOTS")).includes("127.0.0.1")) break;
  if (i === 200) throw new Error("The cluster node did not take its address");
  await sleep(25);
}
const sha = {
  plain: await plain.cli("SCRIPT", "LOAD", SCRIPT),
  cluster: await cluster.cli("SCRIPT", "LOAD", SCRIPT),
};

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Errors the ioredis clients emitted (they are reported, not thrown). */
const clientErrors: string[] = [];

async function pqSubject(
  name: ClientName,
  server: RedisServer,
): Promise<Subject> {
  const client = new RedisClient(clientAddress(server.url()), 5);
  await client.connect();
  return {
    name,
    ping: () => client.send(["PING"]),
    evalsha: (sha, key) => client.send(["EVALSHA", sha, "1", key]),
    close: () => client.close(),
  };
}

async function ioredisSubject(
  name: ClientName,
  client: Redis | Cluster,
): Promise<Subject> {
  client.on("error", (error: Error) => {
    clientErrors.push(`${name}: ${error.message}`);
  });
  await client.ping();
  return {
    name,
    ping: () => client.ping(),
    evalsha: (sha, key) => client.evalsha(sha, 1, key),
    close: async () => {
      await client.quit();
    },
  };
}

function open(name: ClientName): Promise<Subject> {
  const host = "127.0.0.1";
  switch (name) {
    case "pq":
      return pqSubject(name, plain);
    case "pq-cluster":
      return pqSubject(name, cluster);
    case "ioredis":
      return ioredisSubject(name, new Redis(plain.port, host));
    case "ioredis-auto":
      return ioredisSubject(
        name,
        new Redis(plain.port, host, { enableAutoPipelining: true }),
      );
    case "ioredis-cluster":
      return ioredisSubject(
        name,
        new Cluster([{ host, port: cluster.port }]),
      );
  }
}

function shaOf(subject: Subject): string {
  return subject.name.endsWith("-cluster") ? sha.cluster : sha.plain;
}

/** The value at quantile `q` of sorted `xs` (nearest rank). */
function quantile(xs: Float64Array | number[], q: number): number {
  return xs[Math.min(xs.length - 1, Math.ceil(q * xs.length) - 1)];
}

function median(xs: number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** What one client did in one test of a round, summed over its slices. */
interface Samples {
  /** Round-trip times in ms (none for the pipelined test). */
  times: number[];
  /** Commands answered. */
  ops: number;
  /** Time spent, in ms. */
  spanMs: number;
}

function figuresOf(samples: Samples): Figures {
  const sorted = Float64Array.from(samples.times).sort();
  return {
    p50Ms: sorted.length ? quantile(sorted, 0.5) : undefined,
    p99Ms: sorted.length ? quantile(sorted, 0.99) : undefined,
    opsPerSec: samples.ops / (samples.spanMs / 1000),
  };
}

async function sequential(subject: Subject, into: Samples): Promise<void> {
  const n = Math.round(SEQUENTIAL / SLICES);
  const start = performance.now();
  for (let i = 0; i < n; i++) {
    const sent = performance.now();
    await subject.ping();
    into.times.push(performance.now() - sent);
  }
  into.spanMs += performance.now() - start;
  into.ops += n;
}

async function pipelined(
  subject: Subject,
  into: Samples,
  n = Math.round(PIPELINED / SLICES),
): Promise<void> {
  const sha = shaOf(subject);
  const start = performance.now();
  for (let at = 0; at < n; at += IN_FLIGHT) {
    const batch: Promise<unknown>[] = [];
    for (let i = at; i < Math.min(n, at + IN_FLIGHT); i++) {
      batch.push(subject.evalsha(sha, KEYS[i % KEYS.length]));
    }
    await Promise.all(batch);
  }
  into.spanMs += performance.now() - start;
  into.ops += n;
}

async function idle(subject: Subject, into: Samples): Promise<void> {
  const start = performance.now();
  let n = 0;
  while (performance.now() - start < IDLE_MS / SLICES) {
    await sleep(IDLE_EVERY_MS);
    const sent = performance.now();
    await subject.ping();
    into.times.push(performance.now() - sent);
    n++;
  }
  into.spanMs += performance.now() - start;
  into.ops += n;
}

const run: Record<
  TestName,
  (subject: Subject, into: Samples) => Promise<void>
> = { sequential, pipelined, idle };

const subjects: Subject[] = [];
for (const name of CLIENTS) subjects.push(await open(name));
for (const subject of subjects) {
  for (let i = 0; i < 200; i++) await subject.ping();
  await pipelined(subject, { times: [], ops: 0, spanMs: 0 }, 2 * IN_FLIGHT);
}
/** The version of ioredis the lock file resolved `npm:ioredis@^5` to. */
const ioredisVersion = await Deno.readTextFile(
  new URL("../deno.lock", import.meta.url),
).then((text) =>
  Object.entries(JSON.parse(text).specifiers as Record<string, string>)
    .find(([specifier]) => specifier.startsWith("npm:ioredis@"))?.[1]
).catch(() => undefined);
/** The commit, and the blob of connection.ts measured (it may be edited). */
async function git(...args: string[]): Promise<string> {
  const output = await new Deno.Command("git", {
    args,
    cwd: new URL("..", import.meta.url),
    stdout: "piped",
    stderr: "null",
  }).output().catch(() => undefined);
  return output?.success ? new TextDecoder().decode(output.stdout).trim() : "";
}
const connectionFile = "src/store/redis/connection.ts";
console.log(JSON.stringify({
  commit: await git("log", "-1", "--format=%h"),
  connectionTs: (await git("hash-object", connectionFile)).slice(0, 10) +
    ((await git("status", "--short", connectionFile)) ? " (edited)" : ""),
  deno: Deno.version.deno,
  ioredis: ioredisVersion,
  clients: CLIENTS,
  rounds: ROUNDS,
  slices: SLICES,
  sequential: SEQUENTIAL,
  pipelined: PIPELINED,
  inFlight: IN_FLIGHT,
  idleMs: IDLE_MS,
}));

/** results[test][client] = the figures of each round. */
const results = Object.fromEntries(
  TESTS.map((test) => [test, new Map<ClientName, Figures[]>()]),
) as Record<TestName, Map<ClientName, Figures[]>>;
const r3 = (x: number | undefined) =>
  x === undefined ? undefined : Math.round(x * 1000) / 1000;
let turn = 0;
for (let round = 0; round < ROUNDS; round++) {
  for (const test of TESTS) {
    const samples = new Map<ClientName, Samples>(
      subjects.map((subject) => [
        subject.name,
        { times: [], ops: 0, spanMs: 0 },
      ]),
    );
    for (let slice = 0; slice < SLICES; slice++, turn++) {
      for (let i = 0; i < subjects.length; i++) {
        const subject = subjects[(i + turn) % subjects.length];
        await run[test](subject, samples.get(subject.name)!);
      }
    }
    for (const subject of subjects) {
      const figures = figuresOf(samples.get(subject.name)!);
      const list = results[test].get(subject.name) ?? [];
      list.push(figures);
      results[test].set(subject.name, list);
      console.log(JSON.stringify({
        round,
        test,
        client: subject.name,
        p50Ms: r3(figures.p50Ms),
        p99Ms: r3(figures.p99Ms),
        opsPerSec: Math.round(figures.opsPerSec),
      }));
    }
  }
}
for (const subject of subjects) await subject.close();

/** The median over the rounds of one figure. */
function med(
  test: TestName,
  client: ClientName,
  key: keyof Figures,
): number | undefined {
  const list = results[test].get(client);
  if (!list) return undefined;
  return median(list.map((figures) => figures[key]!));
}

const columns: Array<[string, TestName, keyof Figures]> = [
  ["sequential p50 ms", "sequential", "p50Ms"],
  ["sequential p99 ms", "sequential", "p99Ms"],
  ["sequential PING/s", "sequential", "opsPerSec"],
  ["pipelined EVALSHA/s", "pipelined", "opsPerSec"],
  ["idle p50 ms", "idle", "p50Ms"],
  ["idle p99 ms", "idle", "p99Ms"],
];
const cell = (x: number | undefined, key: keyof Figures) =>
  x === undefined
    ? "–"
    : key === "opsPerSec"
    ? Math.round(x).toLocaleString("en-US")
    : x.toFixed(3);
/** The median over the rounds of the ratio a / b of one figure. */
function ratio(
  test: TestName,
  a: ClientName,
  b: ClientName,
  key: keyof Figures,
): string {
  const as = results[test].get(a);
  const bs = results[test].get(b);
  if (!as || !bs) return "–";
  return `${median(as.map((x, i) => x[key]! / bs[i][key]!)).toFixed(2)}×`;
}

console.log(
  `\nMedians of ${ROUNDS} rounds (Deno ${Deno.version.deno}, ioredis ${
    ioredisVersion ?? "?"
  }):\n`,
);
console.log(`| client | ${columns.map(([title]) => title).join(" | ")} |`);
console.log(`|---|${columns.map(() => "---:").join("|")}|`);
for (const name of CLIENTS) {
  console.log(
    `| ${name} | ${
      columns.map(([, test, key]) => cell(med(test, name, key), key)).join(
        " | ",
      )
    } |`,
  );
}
const pairs: Array<[ClientName, ClientName]> = [
  ["pq", "ioredis"],
  ["pq", "ioredis-auto"],
  ["pq-cluster", "ioredis-cluster"],
];
for (const [a, b] of pairs) {
  if (!CLIENTS.includes(a) || !CLIENTS.includes(b)) continue;
  console.log(
    `| ${a} / ${b} | ${
      columns.map(([, test, key]) => ratio(test, a, b, key)).join(" | ")
    } |`,
  );
}
console.log(
  "\nRatios: medians of the rounds' ratios; latency ratios below 1× and" +
    " throughput ratios above 1× favour pq.",
);
if (clientErrors.length > 0) {
  console.log(`\nErrors emitted by ioredis: ${clientErrors.join("; ")}`);
}
