/**
 * A private multi-node Redis Cluster, and a private Sentinel set (a primary,
 * a replica, three sentinels), for tests that fail a primary over:
 * `await using cluster = await startRedisCluster();`.
 *
 * Invariants: every process listens on 127.0.0.1 only, on ports found free
 * (the cluster bus too, by `--cluster-port`: port + 10000 may be taken, or
 * past 65535); each process has its own folder inside the harness's
 * temporary folder, which is removed on dispose and by `stopSync()`; every
 * process started is killed by its PID on dispose and by `stopSync()` (for
 * an unload handler). A process a test kills stays down until it restarts
 * it (`restart(port)`: the same arguments and folder, the same port); one
 * it SIGSTOPs is asked nothing until SIGCONT (it would not answer).
 * @module
 */

import { RedisClient } from "../src/store/redis/connection.ts";
import { delay } from "./_helpers.ts";
import { freePort, requireRedis, TEST_NAMESPACE } from "./_redis.ts";

/** How often a start-up or a failover is checked. */
const POLL_MS = 25;

/** How long redis-cli may wait for an answer (then it is killed). */
const CLI_TIMEOUT_MS = 5_000;

/** How long a failover may take before `waitForFailover` fails. */
const FAILOVER_TIMEOUT_MS = 30_000;

/**
 * How long a restarted server may take to be a synced replica before
 * `restart` fails: the sentinels wait 8 s (4 × their 2 s publish period)
 * after they see a former primary up, as a primary, before they make it a
 * replica, and read a replica's INFO every 10 s.
 */
const REJOIN_TIMEOUT_MS = 60_000;

/**
 * How long the sentinels are given to make a restarted former primary a
 * replica before the harness does it, as an operator would: a sentinel in
 * TILT mode (its timer ran late, as on a loaded machine) acts on nothing
 * for 30 s, and a CI run once saw the restarted server stay a primary for
 * a whole minute.
 */
const SENTINEL_REJOIN_MS = 30_000;

/** Options of {@linkcode startRedisCluster}. */
export interface ClusterOptions {
  /** Primaries, each serving an equal share of the slots: 3 (the least). */
  primaries?: number;
  /** Replicas of each primary: 1. */
  replicasPerPrimary?: number;
  /** `cluster-node-timeout`: 1000 ms, so that a failover is quick. */
  nodeTimeoutMs?: number;
  /** Turn on the append-only file (`appendfsync always`) on every node. */
  aof?: boolean;
}

/** A node of a {@linkcode RedisCluster}. */
export interface ClusterNode {
  /** Its client port on 127.0.0.1. */
  port: number;
  /** Its cluster bus port on 127.0.0.1. */
  busPort: number;
  /** Its folder (data, `nodes-<port>.conf`). */
  dir: string;
  /** The PID of its redis-server. */
  pid: number;
}

/** A running Redis Cluster of several nodes. */
export interface RedisCluster extends AsyncDisposable {
  /** The nodes in the order they were started: the primaries first. */
  nodes: readonly ClusterNode[];
  /**
   * `redis://127.0.0.1:<p1>,127.0.0.1:<p2>,127.0.0.1:<p3>/0?namespace=<ns>`:
   * the seed nodes (the first three nodes).
   */
  url(namespace?: string): string;
  /**
   * `redis-cli -p <port> ...args`, output trimmed; empty when the node does
   * not answer (a SIGSTOPped one: after 5 s).
   */
  cli(port: number, ...args: string[]): Promise<string>;
  /** CLUSTER KEYSLOT of a key. */
  keySlot(key: string): Promise<number>;
  /** The port of the node that is primary for `slot` now, as a live node says. */
  primaryOf(slot: number): Promise<number>;
  /** The ports of the current primaries, as a live node says (by slot). */
  primaries(): Promise<number[]>;
  /**
   * `count` queue names, starting with `prefix`, whose hash tag `{name}`
   * slot lands on `count` different primaries (count <= primaries).
   */
  queuesOnDistinctPrimaries(count: number, prefix?: string): Promise<string[]>;
  /**
   * Sends a signal to the process of the node on `port` (SIGKILL, SIGSTOP,
   * SIGCONT); after SIGKILL (or any signal but SIGSTOP and SIGCONT) the node
   * stays down, until {@linkcode RedisCluster.restart}.
   */
  signal(port: number, signal: Deno.Signal): void;
  /**
   * Starts the killed node on `port` again (once its process has exited),
   * with the same arguments and folder: it reads its `nodes-<port>.conf`,
   * learns from the others that its slots are served by a newer primary
   * (its promoted replica), and rejoins as that primary's replica. Resolves
   * once it is a synced replica (`INFO replication` says `role:slave` and
   * `master_link_status:up`); its node's `pid` is the new process's. Fails
   * after 60 s with what it said last.
   */
  restart(port: number): Promise<void>;
  /**
   * Resolves once the slots that `oldPrimaryPort` served as primary (its
   * shard's, at start) are served by another node and every live node says
   * `cluster_state:ok` and agrees on it; returns the new primary's port.
   * Fails after 30 s with what the nodes said last.
   */
  waitForFailover(oldPrimaryPort: number): Promise<number>;
  /** Kills every node at once and removes the folder (for an unload handler). */
  stopSync(): void;
}

/** Options of {@linkcode startRedisSentinel}. */
export interface SentinelOptions {
  /** Turn on the append-only file (`appendfsync always`) on both servers. */
  aof?: boolean;
  /** `down-after-milliseconds` of the sentinels: 1000. */
  downAfterMs?: number;
}

/** A running primary and replica, watched by three sentinels. */
export interface SentinelSet extends AsyncDisposable {
  /**
   * The name the sentinels monitor the primary by: `pqmaster-<8 hex>`, its
   * own, so that the sentinels of two sets never take each other's hellos
   * (see {@linkcode startRedisSentinel}).
   */
  masterName: string;
  /**
   * `redis+sentinel://127.0.0.1:<s1>,127.0.0.1:<s2>,127.0.0.1:<s3>/<masterName>?namespace=<ns>`.
   */
  url(namespace?: string): string;
  /** The port the primary started on. */
  primaryPort: number;
  /** The port the replica started on. */
  replicaPort: number;
  /** The ports of the three sentinels. */
  sentinelPorts: readonly number[];
  /**
   * `redis-cli -p <port> ...args`, output trimmed; empty when it does not
   * answer (a SIGSTOPped one: after 5 s).
   */
  cli(port: number, ...args: string[]): Promise<string>;
  /** The port SENTINEL get-master-addr-by-name reports now (a live sentinel asked). */
  currentPrimary(): Promise<number>;
  /**
   * Sends a signal to the process on `port` (a server or a sentinel); after
   * any signal but SIGSTOP and SIGCONT it stays down, until
   * {@linkcode SentinelSet.restart}.
   */
  signal(port: number, signal: Deno.Signal): void;
  /**
   * Starts the killed server on `port` again (once its process has exited),
   * with the same arguments and folder. A former primary comes back as a
   * primary (of what its folder holds), and the sentinels make it a replica
   * of the primary of the moment (about 10 s after it is up: they wait 8 s
   * after they see it as a primary, and read its INFO every 10 s). Resolves
   * once it is a synced replica (`INFO replication` says `role:slave` and
   * `master_link_status:up`); fails after 60 s with what it said last.
   */
  restart(port: number): Promise<void>;
  /**
   * Resolves with the new primary's port once every live sentinel reports
   * the same primary, not `oldPort`, and that server says `role:master`.
   * Fails after 30 s with what the sentinels said last.
   */
  waitForFailover(oldPort: number): Promise<number>;
  /** Kills every process at once and removes the folder (for an unload handler). */
  stopSync(): void;
}

/** A node in CLUSTER SHARDS (`redis-cli --json`). */
interface ShardNode {
  port: number;
  role: "master" | "replica";
  /**
   * "online", "fail", or "loading": a replica at replication offset 0, which
   * is the case of a synced one until the first write or the replication
   * PING its primary sends every 10 s.
   */
  health: string;
}

/** A shard in CLUSTER SHARDS: its slot ranges (start, end, start, end…) and nodes. */
interface Shard {
  slots: number[];
  nodes: ShardNode[];
}

/** What one node says of the cluster. */
interface ClusterView {
  /** It says `cluster_state:ok`. */
  ok: boolean;
  shards: Shard[];
}

/**
 * `redis-cli -h 127.0.0.1 -p <port> ...args`, its output trimmed; empty when
 * nothing answers (redis-cli then writes only to stderr), or nothing in
 * {@linkcode CLI_TIMEOUT_MS}: a process that accepts but never replies (a
 * paused node, a stranger that took a port) would hold redis-cli forever.
 */
async function redisCli(port: number, ...args: string[]): Promise<string> {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), CLI_TIMEOUT_MS);
  try {
    const output = await new Deno.Command("redis-cli", {
      args: ["-h", "127.0.0.1", "-p", String(port), ...args],
      stdin: "null",
      stdout: "piped",
      stderr: "null",
      signal: abort.signal,
    }).output();
    return new TextDecoder().decode(output.stdout).trim();
  } finally {
    clearTimeout(timer);
  }
}

/** A reply as JSON (`redis-cli --json`), or undefined when it is not one. */
async function cliJson<T>(
  port: number,
  ...args: string[]
): Promise<T | undefined> {
  const text = await redisCli(port, "--json", ...args);
  try {
    return JSON.parse(text) as T;
  } catch {
    // No answer, or an error reply.
    return undefined;
  }
}

/**
 * Calls `check` every {@linkcode POLL_MS} until it gives a value; fails
 * after `timeoutMs` saying what was awaited and what `seen` says was seen
 * last.
 */
async function poll<T>(
  what: string,
  timeoutMs: number,
  check: () => Promise<T | undefined>,
  seen: () => string = () => "",
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) {
      const last = seen();
      throw new Error(
        `Timed out after ${timeoutMs / 1000} s waiting for ${what}` +
          (last ? `; seen last: ${last}` : ""),
      );
    }
    await delay(POLL_MS);
  }
}

/** The arguments of a redis-server holding data, in its folder `dir`. */
function serverArgs(port: number, dir: string, aof: boolean): string[] {
  return [
    "--port",
    String(port),
    "--bind",
    "127.0.0.1",
    "--dir",
    dir,
    "--save",
    "",
    ...(aof
      ? ["--appendonly", "yes", "--appendfsync", "always"]
      : ["--appendonly", "no"]),
    // A replica's first sync would otherwise wait 5 s for other replicas to
    // share its diskless transfer.
    "--repl-diskless-sync-delay",
    "0",
  ];
}

/**
 * The redis-server processes of one harness, by port, and what a test did
 * to each; they live in folders inside `dir`.
 */
class Instances {
  readonly #processes = new Map<number, Deno.ChildProcess>();
  /** The arguments each process was started with, by port. */
  readonly #argv = new Map<number, string[]>();
  /** Ports of processes that exited, or that a test signalled to end. */
  readonly #down = new Set<number>();
  /** Ports of processes SIGSTOPped and not SIGCONTed since. */
  readonly #paused = new Set<number>();
  /** Every port handed out, so that two of one harness never collide. */
  readonly #taken = new Set<number>();
  /** Whether {@linkcode Instances.stop} ran: disposing twice is no error. */
  #stopped = false;

  constructor(readonly dir: string) {}

  /** A free port not handed out before by this harness. */
  freePort(): number {
    for (;;) {
      const port = freePort();
      if (!this.#taken.has(port)) {
        this.#taken.add(port);
        return port;
      }
    }
  }

  /**
   * Starts `redis-server <args(port)>` on a free port; resolves with the
   * port once that process answers on it. When it exits first (its port, or
   * another it was given, was taken since it was found free) it is started
   * again on other ports, at most 3 times.
   */
  async start(args: (port: number) => string[]): Promise<number> {
    for (let attempt = 1;; attempt++) {
      const port = this.freePort();
      const argv = args(port);
      if (await this.#spawn(port, argv)) {
        this.#argv.set(port, argv);
        return port;
      }
      this.#processes.delete(port);
      if (attempt === 3) {
        throw new Error(
          `redis-server ${argv.join(" ")} exited at once, 3 times`,
        );
      }
    }
  }

  /**
   * Starts the process of `port` again with the arguments it had, once the
   * one before exited (a test killed it); resolves once the new one answers
   * on the port. Fails when the old one still runs, or the new one exits.
   */
  async restart(port: number): Promise<void> {
    const old = this.#process(port);
    const argv = this.#argv.get(port);
    if (!argv || !this.#down.has(port)) {
      throw new Error(`The process on ${port} was not stopped: no restart`);
    }
    await old.status;
    if (this.#stopped) throw new Error("The harness was stopped");
    this.#paused.delete(port);
    if (!await this.#spawn(port, argv)) {
      throw new Error(`redis-server ${argv.join(" ")} exited at once`);
    }
  }

  /**
   * Runs `redis-server <argv>` as the process of `port`; resolves true once
   * it answers there as itself, false when it exited first.
   */
  async #spawn(port: number, argv: string[]): Promise<boolean> {
    const process = new Deno.Command("redis-server", {
      args: argv,
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    this.#processes.set(port, process);
    this.#down.delete(port);
    let exited = false;
    process.status.then(() => {
      exited = true;
      // Not a later process's port (one restarted after this one).
      if (this.#processes.get(port) === process) this.#down.add(port);
    });
    // Answers as this process: another may have taken the port.
    return await poll(
      `redis-server to start on port ${port}`,
      10_000,
      async () => {
        if (exited) return false;
        const info = await redisCli(port, "INFO", "server");
        const pid = info.match(/process_id:(\d+)/)?.[1];
        return pid === String(process.pid) ? true : undefined;
      },
    );
  }

  /** The PID of the process on `port`. */
  pid(port: number): number {
    return this.#process(port).pid;
  }

  /** Sends `signal` to the process on `port`, by its PID. */
  signal(port: number, signal: Deno.Signal): void {
    this.#process(port).kill(signal);
    if (signal === "SIGSTOP") this.#paused.add(port);
    else if (signal === "SIGCONT") this.#paused.delete(port);
    else this.#down.add(port);
  }

  /** Whether the process on `port` runs and is not paused. */
  isLive(port: number): boolean {
    return this.#processes.has(port) && !this.#down.has(port) &&
      !this.#paused.has(port);
  }

  /** The ports of `ports` whose process is live. */
  live(ports: readonly number[]): number[] {
    return ports.filter((port) => this.isLive(port));
  }

  /** Kills every process (SIGKILL ends a paused one too) and removes `dir`. */
  stopSync(): void {
    for (const process of this.#processes.values()) {
      try {
        process.kill("SIGKILL");
      } catch {
        // Already gone.
      }
    }
    try {
      Deno.removeSync(this.dir, { recursive: true });
    } catch {
      // Already removed.
    }
  }

  /** Kills every process, waits for their ends and removes `dir` (once). */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    for (const process of this.#processes.values()) {
      try {
        process.kill("SIGKILL");
      } catch {
        // Already gone.
      }
    }
    await Promise.all([...this.#processes.values()].map((p) => p.status));
    await Deno.remove(this.dir, { recursive: true });
  }

  #process(port: number): Deno.ChildProcess {
    const process = this.#processes.get(port);
    if (!process) throw new Error(`No process of this harness on ${port}`);
    return process;
  }
}

/**
 * Resolves once the server on `port` says it is a replica whose link to its
 * primary is up (synced); fails after {@linkcode REJOIN_TIMEOUT_MS} with
 * what it said last.
 */
async function rejoined(
  port: number,
  timeoutMs = REJOIN_TIMEOUT_MS,
): Promise<void> {
  let seen = "";
  await poll(
    `127.0.0.1:${port} to be a synced replica`,
    timeoutMs,
    async () => {
      const info = await redisCli(port, "INFO", "replication");
      seen = info.match(/role:\w+|master_port:\d+|master_link_status:\w+/g)
        ?.join(", ") ?? "no answer";
      return /role:slave\b/.test(info) &&
          info.includes("master_link_status:up")
        ? true
        : undefined;
    },
    () => seen,
  );
}

/** What one cluster node says: its state and CLUSTER SHARDS. */
async function clusterView(port: number): Promise<ClusterView | undefined> {
  const [info, shards] = await Promise.all([
    redisCli(port, "CLUSTER", "INFO"),
    cliJson<Shard[]>(port, "CLUSTER", "SHARDS"),
  ]);
  if (!Array.isArray(shards)) return undefined;
  return { ok: info.includes("cluster_state:ok"), shards };
}

/** The slot ranges of a shard: `0-5460,…` ("no slots" when it has none). */
function ranges(slots: number[]): string {
  const parts: string[] = [];
  for (let i = 0; i < slots.length; i += 2) {
    parts.push(`${slots[i]}-${slots[i + 1]}`);
  }
  return parts.join(",") || "no slots";
}

/**
 * The shards of a view on one line, the same from every node that agrees:
 * `0-5460: 7001 > 7004; …` (slots: primary > replicas), with the health of
 * a node not online.
 */
function describeShards(shards: Shard[]): string {
  const node = (n: ShardNode) =>
    n.health === "online" ? String(n.port) : `${n.port}(${n.health})`;
  return [...shards]
    .sort((a, b) => (a.slots[0] ?? 16384) - (b.slots[0] ?? 16384))
    .map((shard) => {
      const primaries = shard.nodes.filter((n) => n.role === "master");
      const replicas = shard.nodes.filter((n) => n.role !== "master")
        .sort((a, b) => a.port - b.port);
      return `${ranges(shard.slots)}: ${primaries.map(node).join("/")}` +
        (replicas.length ? ` > ${replicas.map(node).join(",")}` : "");
    })
    .join("; ");
}

/** What each node of `ports` says, for a timeout's message. */
function describeViews(
  ports: number[],
  views: Array<ClusterView | undefined>,
): string {
  return ports.map((port, i) => {
    const view = views[i];
    if (!view) return `${port}: no answer`;
    return `${port}: ${view.ok ? "" : "not ok, "}${
      describeShards(view.shards)
    }`;
  }).join(" | ");
}

/**
 * Whether `shards` are all that `redis-cli --cluster create` made: each
 * with slots, an online primary and its replicas.
 */
function isFormed(
  shards: Shard[],
  primaryCount: number,
  replicasPerPrimary: number,
): boolean {
  return shards.length === primaryCount && shards.every((shard) => {
    const primaries = shard.nodes.filter((n) => n.role === "master");
    const replicas = shard.nodes.filter((n) => n.role !== "master");
    // A synced replica may say "loading" for 10 s (see ShardNode.health):
    // INFO replication says whether it is synced.
    return shard.slots.length > 0 && primaries.length === 1 &&
      primaries[0].health === "online" &&
      replicas.length === replicasPerPrimary &&
      replicas.every((n) => n.health !== "fail");
  });
}

/** The primary serving `slot` in `shards`, if any. */
function ownerOf(shards: Shard[], slot: number): ShardNode | undefined {
  for (const shard of shards) {
    for (let i = 0; i < shard.slots.length; i += 2) {
      if (slot >= shard.slots[i] && slot <= shard.slots[i + 1]) {
        return shard.nodes.find((n) => n.role === "master");
      }
    }
  }
  return undefined;
}

/**
 * Starts a Redis Cluster of `primaries × (1 + replicasPerPrimary)` private
 * redis-servers, and resolves once every node says `cluster_state:ok`, all
 * agree on every node's role and slots, and each replica is synced (so a
 * failover can happen at once). Fails, saying how to install it, without
 * redis-server.
 */
export async function startRedisCluster(
  options: ClusterOptions = {},
): Promise<RedisCluster> {
  const primaryCount = options.primaries ?? 3;
  const replicasPerPrimary = options.replicasPerPrimary ?? 1;
  const nodeTimeoutMs = options.nodeTimeoutMs ?? 1000;
  if (!Number.isInteger(primaryCount) || primaryCount < 3) {
    throw new Error("A Redis Cluster needs 3 primaries at least");
  }
  if (!Number.isInteger(replicasPerPrimary) || replicasPerPrimary < 0) {
    throw new Error("replicasPerPrimary is a whole number");
  }
  await requireRedis();
  const instances = new Instances(
    await Deno.makeTempDir({ prefix: "pq_redis_cluster_" }),
  );
  const nodes: ClusterNode[] = [];
  /** The ports of each shard (primary and replicas) and its slots, at start. */
  let shardsAtStart: { slots: number[]; ports: number[] }[] = [];
  try {
    const count = primaryCount * (1 + replicasPerPrimary);
    nodes.push(
      ...await Promise.all(
        Array.from({ length: count }, async (_, i): Promise<ClusterNode> => {
          const dir = `${instances.dir}/node-${i}`;
          await Deno.mkdir(dir);
          // The bus port of the last attempt: the one that started.
          let busPort = 0;
          const port = await instances.start((port) => {
            busPort = instances.freePort();
            return [
              ...serverArgs(port, dir, options.aof ?? false),
              "--cluster-enabled",
              "yes",
              "--cluster-port",
              String(busPort),
              "--cluster-config-file",
              `${dir}/nodes-${port}.conf`,
              "--cluster-node-timeout",
              String(nodeTimeoutMs),
              // A replica may always take over, however long its link to
              // its primary has been down.
              "--cluster-replica-validity-factor",
              "0",
              // Shards keep their nodes: a replica never moves to another
              // primary, so each shard's members stay those of the start.
              "--cluster-allow-replica-migration",
              "no",
              // The default, said: no writes while a slot has no primary.
              "--cluster-require-full-coverage",
              "yes",
            ];
          });
          return { port, busPort, dir, pid: instances.pid(port) };
        }),
      ),
    );
    // The first `primaryCount` nodes listed become the primaries.
    const create = await new Deno.Command("redis-cli", {
      args: [
        "--cluster",
        "create",
        ...nodes.map((node) => `127.0.0.1:${node.port}`),
        "--cluster-replicas",
        String(replicasPerPrimary),
        "--cluster-yes",
      ],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (!create.success) {
      const decoder = new TextDecoder();
      throw new Error(
        "redis-cli --cluster create failed: " +
          decoder.decode(create.stdout) + decoder.decode(create.stderr),
      );
    }
    const ports = nodes.map((node) => node.port);
    let seen = "";
    const agreed = await poll(
      `the ${count} nodes of the cluster to agree and be ok`,
      20_000,
      async () => {
        const views = await Promise.all(ports.map(clusterView));
        seen = describeViews(ports, views);
        const first = views[0];
        if (!first) return undefined;
        const layout = describeShards(first.shards);
        const agree = views.every((view) =>
          view?.ok && describeShards(view.shards) === layout
        );
        return agree &&
            isFormed(first.shards, primaryCount, replicasPerPrimary)
          ? first.shards
          : undefined;
      },
      () => seen,
    );
    const replicaPorts = agreed.flatMap((shard) =>
      shard.nodes.filter((n) => n.role !== "master").map((n) => n.port)
    );
    await poll(
      "the replicas of the cluster to be synced",
      20_000,
      async () => {
        const infos = await Promise.all(
          replicaPorts.map((port) => redisCli(port, "INFO", "replication")),
        );
        return infos.every((info) => info.includes("master_link_status:up"))
          ? true
          : undefined;
      },
    );
    shardsAtStart = agreed.map((shard) => ({
      slots: shard.slots,
      ports: shard.nodes.map((n) => n.port),
    }));
  } catch (error) {
    await instances.stop();
    throw error;
  }

  const ports = nodes.map((node) => node.port);
  /** A node that runs and is not paused, to ask. */
  const liveNode = () => {
    const [port] = instances.live(ports);
    if (port === undefined) throw new Error("No node of the cluster is live");
    return port;
  };
  const shardsNow = async () => {
    const port = liveNode();
    const view = await clusterView(port);
    if (!view) throw new Error(`Node ${port} does not answer CLUSTER SHARDS`);
    return view.shards;
  };
  const keySlot = async (key: string) => {
    const slot = Number(await redisCli(liveNode(), "CLUSTER", "KEYSLOT", key));
    if (!Number.isInteger(slot)) throw new Error(`No slot for key ${key}`);
    return slot;
  };
  const primaries = async () =>
    (await shardsNow())
      .filter((shard) => shard.slots.length > 0)
      .sort((a, b) => a.slots[0] - b.slots[0])
      .flatMap((shard) =>
        shard.nodes.filter((n) => n.role === "master").map((n) => n.port)
      );
  return {
    nodes,
    url: (namespace = TEST_NAMESPACE) =>
      `redis://${
        ports.slice(0, 3).map((port) => `127.0.0.1:${port}`).join(",")
      }/0?namespace=${namespace}`,
    cli: redisCli,
    keySlot,
    async primaryOf(slot) {
      const owner = ownerOf(await shardsNow(), slot);
      if (!owner) throw new Error(`No node serves slot ${slot}`);
      return owner.port;
    },
    primaries,
    async queuesOnDistinctPrimaries(count, prefix = "queue-") {
      const shards = await shardsNow();
      const primaryCount = shards.filter((s) => s.slots.length > 0).length;
      if (count > primaryCount) {
        throw new Error(`${count} queues, but ${primaryCount} primaries`);
      }
      const names: string[] = [];
      const used = new Set<number>();
      for (let i = 0; names.length < count; i++) {
        const name = `${prefix}${i}`;
        // A queue's keys share the hash tag `{<queue>}`.
        const owner = ownerOf(shards, await keySlot(`{${name}}`));
        if (owner && !used.has(owner.port)) {
          used.add(owner.port);
          names.push(name);
        }
      }
      return names;
    },
    signal: (port, signal) => instances.signal(port, signal),
    async restart(port) {
      const node = nodes.find((n) => n.port === port);
      if (!node) throw new Error(`No node of this cluster on port ${port}`);
      await instances.restart(port);
      node.pid = instances.pid(port);
      await rejoined(port);
    },
    async waitForFailover(oldPrimaryPort) {
      const shard = shardsAtStart.find((s) => s.ports.includes(oldPrimaryPort));
      if (!shard) {
        throw new Error(`No node of this cluster on port ${oldPrimaryPort}`);
      }
      // Slots move by shard: the first stands for all of them.
      const slot = shard.slots[0];
      let seen = "";
      return await poll(
        `slots ${ranges(shard.slots)} of 127.0.0.1:${oldPrimaryPort} ` +
          "to fail over to another node, and every live node to say so",
        FAILOVER_TIMEOUT_MS,
        async () => {
          const live = instances.live(ports);
          const views = await Promise.all(live.map(clusterView));
          seen = describeViews(live, views);
          const owners = new Set<number>();
          for (const view of views) {
            const owner = view?.ok ? ownerOf(view.shards, slot) : undefined;
            if (owner?.health !== "online") return undefined;
            owners.add(owner.port);
          }
          const [port] = owners;
          return owners.size === 1 && port !== oldPrimaryPort &&
              instances.isLive(port)
            ? port
            : undefined;
        },
        () => seen,
      );
    },
    stopSync: () => instances.stopSync(),
    [Symbol.asyncDispose]: () => instances.stop(),
  };
}

/** A sentinel's reply describing instances (`redis-cli --json`). */
type SentinelEntries = Array<Record<string, string>>;

/**
 * Starts a primary and its replica, synced, then three sentinels watching
 * them (quorum 2); resolves once each sentinel knows the replica, linked,
 * and the two other sentinels (so a failover can happen at once). Fails,
 * saying how to install it, without redis-server.
 *
 * A set is kept apart from the others: the sentinels of a set whose primary
 * was killed keep calling at its port, which another test's server may get.
 * Its own master name makes the sentinels ignore hellos of other sets (one
 * with a newer epoch would move them to its primary), and SLAVEOF and
 * REPLICAOF renamed to names of its own, on its servers and in its
 * sentinels, keep its sentinels from turning another's server into a
 * replica, and the others' from turning its servers into one.
 */
export async function startRedisSentinel(
  options: SentinelOptions = {},
): Promise<SentinelSet> {
  const masterName = `pqmaster-${crypto.randomUUID().slice(0, 8)}`;
  const secret = crypto.randomUUID();
  const renamed = [
    ["SLAVEOF", `SLAVEOF-${secret}`],
    ["REPLICAOF", `REPLICAOF-${secret}`],
  ];
  const renameArgs = renamed.flatMap(([command, name]) => [
    "--rename-command",
    command,
    name,
  ]);
  const downAfterMs = options.downAfterMs ?? 1000;
  const aof = options.aof ?? false;
  await requireRedis();
  const instances = new Instances(
    await Deno.makeTempDir({ prefix: "pq_redis_sentinel_" }),
  );
  let primaryPort = 0;
  let replicaPort = 0;
  const sentinelPorts: number[] = [];
  try {
    const primaryDir = `${instances.dir}/primary`;
    const replicaDir = `${instances.dir}/replica`;
    await Deno.mkdir(primaryDir);
    await Deno.mkdir(replicaDir);
    primaryPort = await instances.start((port) => [
      ...serverArgs(port, primaryDir, aof),
      ...renameArgs,
    ]);
    replicaPort = await instances.start((port) => [
      ...serverArgs(port, replicaDir, aof),
      ...renameArgs,
      "--replicaof",
      "127.0.0.1",
      String(primaryPort),
    ]);
    // Synced before the sentinels start: a sentinel learns of replicas from
    // the primary's INFO, which it reads once at once, then every 10 s.
    await poll(
      "the replica to be synced",
      10_000,
      async () =>
        (await redisCli(replicaPort, "INFO", "replication"))
            .includes("master_link_status:up")
          ? true
          : undefined,
    );
    sentinelPorts.push(
      ...await Promise.all([0, 1, 2].map(async (i) => {
        const dir = `${instances.dir}/sentinel-${i}`;
        await Deno.mkdir(dir);
        // Each its own file: a sentinel rewrites it with what it learns.
        const config = `${dir}/sentinel.conf`;
        return instances.start((port) => {
          Deno.writeTextFileSync(
            config,
            [
              `port ${port}`,
              "bind 127.0.0.1",
              `dir ${dir}`,
              `sentinel monitor ${masterName} 127.0.0.1 ${primaryPort} 2`,
              `sentinel down-after-milliseconds ${masterName} ${downAfterMs}`,
              `sentinel failover-timeout ${masterName} 5000`,
              `sentinel parallel-syncs ${masterName} 1`,
              ...renamed.map(([command, name]) =>
                `sentinel rename-command ${masterName} ${command} ${name}`
              ),
              "",
            ].join("\n"),
          );
          return [config, "--sentinel"];
        });
      })),
    );
    let seen = "";
    // Sentinels find each other by the hellos they publish every 2 s.
    await poll(
      "each sentinel to know the replica and the other sentinels",
      20_000,
      async () => {
        const states = await Promise.all(sentinelPorts.map(async (port) => {
          const [replicas, sentinels] = await Promise.all([
            cliJson<SentinelEntries>(port, "SENTINEL", "replicas", masterName),
            cliJson<SentinelEntries>(port, "SENTINEL", "sentinels", masterName),
          ]);
          const replicaUp = replicas?.some((r) =>
            r.port === String(replicaPort) && r.flags === "slave" &&
            r["master-link-status"] === "ok"
          ) ?? false;
          const others = sentinels?.filter((s) =>
            s.flags === "sentinel"
          )
            .length ?? 0;
          return { port, replicaUp, others };
        }));
        seen = JSON.stringify(states);
        return states.every((s) => s.replicaUp && s.others === 2)
          ? true
          : undefined;
      },
      () => seen,
    );
  } catch (error) {
    await instances.stop();
    throw error;
  }

  /** The primary a sentinel reports, or undefined when it does not answer. */
  const reportedPrimary = async (sentinel: number) => {
    const reply = await cliJson<[string, string]>(
      sentinel,
      "SENTINEL",
      "get-master-addr-by-name",
      masterName,
    );
    return Array.isArray(reply) ? Number(reply[1]) : undefined;
  };
  return {
    masterName,
    url: (namespace = TEST_NAMESPACE) =>
      `redis+sentinel://${
        sentinelPorts.map((port) => `127.0.0.1:${port}`).join(",")
      }/${masterName}?namespace=${namespace}`,
    primaryPort,
    replicaPort,
    sentinelPorts,
    cli: redisCli,
    async currentPrimary() {
      const [sentinel] = instances.live(sentinelPorts);
      if (sentinel === undefined) throw new Error("No sentinel is live");
      const port = await reportedPrimary(sentinel);
      if (port === undefined) {
        throw new Error(`Sentinel ${sentinel} reports no primary`);
      }
      return port;
    },
    signal: (port, signal) => instances.signal(port, signal),
    async restart(port) {
      if (port !== primaryPort && port !== replicaPort) {
        throw new Error(`No server of this set on port ${port}`);
      }
      await instances.restart(port);
      try {
        await rejoined(port, SENTINEL_REJOIN_MS);
      } catch {
        const [sentinel] = instances.live(sentinelPorts);
        const primary = sentinel === undefined
          ? undefined
          : await reportedPrimary(sentinel);
        if (primary === undefined || primary === port) {
          throw new Error(
            `127.0.0.1:${port} is not a replica ${
              SENTINEL_REJOIN_MS / 1000
            } s after its restart, and the sentinels report no other primary`,
          );
        }
        await redisCli(port, "REPLICAOF", "127.0.0.1", String(primary));
        await rejoined(port);
      }
    },
    waitForFailover(oldPort) {
      let seen = "";
      return poll(
        `the sentinels to fail 127.0.0.1:${oldPort} over to another primary`,
        FAILOVER_TIMEOUT_MS,
        async () => {
          const live = instances.live(sentinelPorts);
          const reported = await Promise.all(live.map(reportedPrimary));
          seen = live.map((port, i) => `sentinel ${port}: ${reported[i]}`)
            .join(", ");
          const primaries = new Set(reported);
          const [port] = primaries;
          if (
            primaries.size !== 1 || port === undefined || port === oldPort ||
            !instances.isLive(port)
          ) {
            return undefined;
          }
          const role = await redisCli(port, "INFO", "replication");
          seen += `; ${port} ${role.match(/role:\w+/)?.[0] ?? "no answer"}`;
          return role.includes("role:master") ? port : undefined;
        },
        () => seen,
      );
    },
    stopSync: () => instances.stopSync(),
    [Symbol.asyncDispose]: () => instances.stop(),
  };
}

/**
 * Sends one command (binary arguments as they are) to the server on `port`
 * of 127.0.0.1, on a connection of its own; resolves with its reply as
 * text. For writes a test makes behind the store's back.
 */
export async function sendToPort(
  port: number,
  args: Array<string | Uint8Array>,
): Promise<string> {
  const client = new RedisClient({
    hostname: "127.0.0.1",
    port,
    tls: false,
    db: 0,
  });
  await client.connect();
  try {
    return String(await client.send(args));
  } finally {
    client.destroy();
  }
}
