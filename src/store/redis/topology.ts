/**
 * Where the store's keys live, and how it reaches them: a single server, a
 * primary found through Sentinel, or a Redis Cluster. The one module of
 * the store that knows how keys map to nodes, how a command or a script is
 * sent, and how the connections for blocking and for pub/sub are made: the
 * others ask it and never branch on the kind of server themselves.
 *
 * Invariants:
 * - A command goes to the node that owns its key's slot (on a single
 *   server, to the server): the key of a script is its first KEYS, of a
 *   command its first key (`routingKey`); a command of no key goes to any
 *   node. On a Cluster a MOVED reply is followed (the slot map refreshed),
 *   an ASK reply once (ASKING first, on the same connection), and a
 *   TRYAGAIN, CLUSTERDOWN or LOADING reply sent again after a pause; a
 *   READONLY reply (a primary demoted by a failover, which refused the
 *   write) sends it again to the primary found anew. Each within the
 *   `connectTimeout`.
 * - On a single server a script may touch keys of any hash tag: a claim
 *   takes many queues in one script, the enqueue script hands tasks over to
 *   waiting workers, and the scripts that look for a task's id look in
 *   every queue (they are given the namespace). On a Cluster a script
 *   touches the keys of one slot only: queues are claimed one a script,
 *   nothing is handed over, and other queues are looked in before the
 *   script, by the caller (`singleServer` false).
 * - Blocking pops have connections of their own, one a lane
 *   (`blockingGroups`: one on a single server, one a hash tag on a
 *   Cluster, on the node that owns it), made at first use and made again
 *   when the owner changed; pub/sub has one, to any node (a Cluster
 *   broadcasts what is published). `close()` ends them all.
 * - A command waits for a lost connection to come back, `connectTimeout`
 *   seconds at most, then fails with a `StoreConnectionError`. One whose
 *   connection dropped after it was sent fails with a
 *   {@linkcode ConnectionLostError}: whether the server ran it is unknown.
 * - With `durability=replicated` a write (`commands.ts` tells which) is
 *   reported once a replica has it (`replica_acks.ts`), but for the
 *   scripts the caller says need not wait.
 * - A script is sent by its SHA (computed here), and by its source when
 *   the node does not know it (`NOSCRIPT`: its first use there, or after a
 *   restart), which loads it there.
 * @module
 */
import { createHash } from "node:crypto";
import { delay } from "../../model/_abort.ts";
import { StoreConnectionError } from "../../model/errors.ts";
import { ClusterNodes, parseNodeName, slotOf } from "./cluster.ts";
import {
  type RedisAddress,
  RedisClient,
  type RedisClientOptions,
  RedisConnectionError,
  type RedisMessageListener,
  RedisReplyError,
} from "./connection.ts";
import { routingKey, writes } from "./commands.ts";
import type { LuaScript } from "./lua/script.ts";
import type { HostPort, RedisTarget } from "./redis_url.ts";
import { ReplicaAcks } from "./replica_acks.ts";
import type { RedisArgument, RedisReply } from "./resp.ts";
import { SentinelLocator } from "./sentinel.ts";

/** Encodes keys once (see `#keyBytes`). */
const keyEncoder = new TextEncoder();

/** Redirections followed for one command before it fails. */
const MAX_REDIRECTS = 16;

/** Milliseconds between two tries of a command the cluster asks to retry. */
const RETRY_PAUSE_MS = 100;

/**
 * The connection dropped with a command on its way: whether the server ran
 * it is unknown. (Its name stays `StoreConnectionError`.)
 */
export class ConnectionLostError extends StoreConnectionError {}

/**
 * Runs `send`, and once more when its connection dropped with it in flight
 * (the second attempt is told it is one: `attempt` 2); any other error, or
 * the second's, is thrown. For commands whose second run can tell whether
 * the first one landed.
 */
export function sendAgainIfLost<T>(
  send: (attempt: 1 | 2) => Promise<T>,
): Promise<T> {
  return send(1).catch((error) => {
    if (!(error instanceof ConnectionLostError)) throw error;
    return send(2);
  });
}

/** The options of {@linkcode Topology.connect}. */
export interface TopologyOptions {
  /** Seconds a command waits for a connection (made again) to a node. */
  connectTimeout: number;
  /** PEM certificates of a private CA (TLS). */
  caCerts?: string[];
}

/** A connection of a blocking lane, and the node it was made to. */
interface Blocker {
  client: RedisClient;
  node: string;
}

/** A single server (or Sentinel's primary) or a Cluster, and its links. */
export class Topology {
  readonly #url: string;
  readonly #connectTimeout: number;
  /** The server (on a Cluster, the seed it was reached through). */
  #client: RedisClient;
  /** The Cluster's nodes, on a Cluster. */
  #nodes?: ClusterNodes;
  /** The blocking connections, by lane. */
  readonly #blockers = new Map<string, Blocker>();
  #subscriberClient?: RedisClient;
  /** Stops listening to the sentinels' announcements (Sentinel only). */
  #unwatch?: () => void;
  #closed = false;
  /** The SHA of each script (its hex SHA1, as Redis names it). */
  readonly #shas = new Map<LuaScript, string>();
  /** Keys as bytes, by name (see `#keyBytes`). */
  readonly #encodedKeys = new Map<string, Uint8Array>();
  /** What writes wait for with `durability=replicated` (else none). */
  readonly #replicas?: ReplicaAcks;

  private constructor(
    client: RedisClient,
    url: string,
    connectTimeout: number,
    replicated: boolean,
  ) {
    this.#client = client;
    this.#url = url;
    this.#connectTimeout = connectTimeout;
    if (replicated) this.#replicas = new ReplicaAcks(url);
  }

  /**
   * Connects to the server, seed node or Sentinel's primary of `target`
   * and learns whether it is a Cluster (then reads its slot map). Throws a
   * `StoreConnectionError` naming `url` (masked) when it cannot be reached
   * within `connectTimeout` seconds, or refuses the password.
   */
  static async connect(
    target: RedisTarget,
    url: string,
    options: TopologyOptions,
  ): Promise<Topology> {
    const { connectTimeout } = options;
    const template: RedisAddress = {
      hostname: "",
      port: 0,
      tls: target.tls,
      ...(target.username && { username: target.username }),
      ...(target.password && { password: target.password }),
      db: target.db,
      ...(options.caCerts && { caCerts: options.caCerts }),
      ...(target.serverName && { serverName: target.serverName }),
    };
    const clientOptions: RedisClientOptions = { connectTimeout };
    let seeds = target.hosts;
    let locator: SentinelLocator | undefined;
    if (target.kind === "sentinel") {
      const sentinels = new SentinelLocator(
        target.hosts,
        target.masterName ?? "",
        connectTimeout,
        url,
      );
      seeds = [await sentinels.locate()];
      clientOptions.locate = () => sentinels.locate();
      locator = sentinels;
    }
    let failure: unknown;
    for (const seed of seeds) {
      const client = new RedisClient({ ...template, ...seed }, clientOptions);
      const topology = new Topology(
        client,
        url,
        connectTimeout,
        target.durability === "replicated",
      );
      try {
        await topology.#connect(client);
      } catch (error) {
        failure = error;
        continue;
      }
      await topology.#learnKind(client, seed, seeds, template, clientOptions);
      await topology.#checkReplicas();
      topology.#unwatch = locator?.watch(() => topology.#failedOver());
      return topology;
    }
    throw failure;
  }

  /** Asks whether the server is a Cluster; reads its slot map if it is. */
  async #learnKind(
    client: RedisClient,
    seed: HostPort,
    seeds: readonly HostPort[],
    template: RedisAddress,
    options: RedisClientOptions,
  ): Promise<void> {
    try {
      const info = String(await this.send(["INFO", "cluster"]));
      if (/cluster_enabled:1/.test(info)) {
        this.#nodes = await ClusterNodes.connect(
          client,
          seed,
          seeds,
          template,
          options,
        );
      }
    } catch (error) {
      // Connected, but refused (a password the URL does not give), or a
      // cluster not whole: said as such, and the connection closed, not
      // left to reconnect.
      client.destroy();
      throw this.#cannotConnect(error);
    }
  }

  /** Why the store cannot connect, said for a user. */
  #cannotConnect(error: unknown): StoreConnectionError {
    const refused = error instanceof RedisReplyError &&
      error.code === "NOAUTH";
    return new StoreConnectionError(
      `Cannot connect to ${this.#url}: ${
        refused
          ? "the server requires a password: give it in the URL (redis://:<password>@host:port)"
          : error instanceof Error
          ? error.message
          : String(error)
      }`,
      { cause: error },
    );
  }

  /**
   * True on a single server, where a script may touch keys of any hash
   * tag; false on a Cluster, where those of one slot only.
   */
  get singleServer(): boolean {
    return !this.#nodes;
  }

  /**
   * The namespace as the scripts that may reach beyond their queue are
   * given it (to hand tasks over, to look in other queues): '' on a
   * Cluster, where they may not.
   */
  scriptNamespace(namespace: string): string {
    return this.#nodes ? "" : namespace;
  }

  /**
   * The queues one claim script takes together, in order: all of them on a
   * single server (one round trip); on a Cluster, the queues next to each
   * other in the list whose keys (`keyOf`) share a slot (a hash tag), as
   * the others live on other slots.
   */
  claimGroups(
    queues: readonly string[],
    keyOf: (queue: string) => string,
  ): string[][] {
    if (!this.#nodes) return [[...queues]];
    const groups: string[][] = [];
    let slot = -1;
    for (const queue of queues) {
      const next = slotOf(keyOf(queue));
      if (next === slot) groups[groups.length - 1].push(queue);
      else groups.push([queue]);
      slot = next;
    }
    return groups;
  }

  /**
   * The keys each blocking pop waits on, one pop a group, for a waiter
   * whose inbox is `inbox` on the queues whose markers are `markers`: one
   * group of the inbox and every marker on a single server. On a Cluster
   * one pop takes keys of one slot and nothing is handed over: the markers
   * grouped by hash tag, each group popped on its own connection, so a
   * worker wakes for a task of any of its queues, wherever it lives.
   */
  blockingGroups(inbox: string, markers: readonly string[]): string[][] {
    if (!this.#nodes) return [[inbox, ...markers]];
    return [...Map.groupBy(markers, (key) => slotOf(key)).values()];
  }

  /**
   * False when the node of `key` is down: its connection dropped and is not
   * back (never on a single server, whose commands wait for it).
   */
  reachable(key: string): boolean {
    return !this.#nodes || this.#nodes.reachable(key);
  }

  /** True while the server (on a Cluster, every primary) is connected. */
  get isReady(): boolean {
    if (!this.#nodes) return this.#client.isReady;
    return this.#nodes.primaries().every((client) => client.isReady);
  }

  /** True once `close()` was called. */
  get isClosed(): boolean {
    return this.#closed;
  }

  /**
   * The nodes that hold keys (the primaries of a Cluster; '' for the one
   * server), for commands that walk a node's keys (SCAN): sent to each with
   * {@linkcode sendToNode}.
   */
  nodes(): string[] {
    return this.#nodes ? this.#nodes.primaryNames() : [""];
  }

  /** Sends a command to a node of {@linkcode nodes}. */
  sendToNode(
    node: string,
    args: readonly RedisArgument[],
  ): Promise<RedisReply> {
    return this.#send(args, undefined, node || undefined);
  }

  /** Sends a command; resolves with its reply. */
  send(args: readonly RedisArgument[]): Promise<RedisReply> {
    return this.#send(args, routingKey(args));
  }

  /**
   * Sends a command of no key (a PUBLISH) to the node of `key`, as if it
   * were its key.
   */
  sendFor(key: string, args: readonly RedisArgument[]): Promise<RedisReply> {
    return this.#send(args, key);
  }

  /**
   * Sends a blocking command (its first key decides the node) on the
   * connection of its lane (see {@linkcode blockingGroups}), made at first
   * use, and again when the lane's owner changed.
   */
  async sendBlocking(args: readonly RedisArgument[]): Promise<RedisReply> {
    if (this.#closed) throw new Error(`Store ${this.#url} is closed`);
    const key = routingKey(args);
    const lane = this.#nodes && key !== undefined ? String(slotOf(key)) : "";
    const node = this.#nodes && key !== undefined
      ? this.#nodes.ownerOf(slotOf(key))
      : "";
    let blocker = this.#blockers.get(lane);
    if (!blocker || !blocker.client.isOpen || blocker.node !== node) {
      blocker?.client.destroy();
      const client = this.#nodes
        ? this.#nodes.newClient(parseNodeName(node))
        : this.#client.duplicate();
      await this.#connect(client);
      blocker = { client, node };
      this.#blockers.set(lane, blocker);
    }
    try {
      return await this.#sendOn(blocker.client, args);
    } catch (error) {
      // The lane's slot moved: made again to its owner by the next pop.
      if (this.#nodes && isRedirect(error)) this.#redirected(error);
      // Its node is a replica now: made again to the primary (found anew).
      if (error instanceof RedisReplyError && error.code === "READONLY") {
        blocker.client.destroy();
        this.#blockers.delete(lane);
        await this.#nodes?.refresh();
      }
      throw error;
    }
  }

  /**
   * Ends the blocking connections: a pop blocked on one fails at once (the
   * next one makes another).
   */
  dropBlocking(): void {
    for (const { client } of this.#blockers.values()) client.destroy();
    this.#blockers.clear();
  }

  /**
   * Listens to `channel` on the subscriber connection (made at first use;
   * subscribed again whenever it is made again); resolves once the server
   * confirmed it, or, with a listener there already (`listening`), once
   * what was in flight on it was delivered.
   */
  async listen(
    channel: string,
    listener: RedisMessageListener,
    listening: boolean,
  ): Promise<void> {
    const subscriber = await this.#subscriber();
    await this.#callOn(
      subscriber,
      () =>
        listening
          ? subscriber.send(["PING"]).then(() => undefined)
          : subscriber.subscribe(channel, listener),
    );
  }

  /** Stops listening to `channel`. */
  async unlisten(channel: string): Promise<void> {
    const subscriber = this.#subscriberClient;
    if (subscriber?.isOpen) {
      await subscriber.unsubscribe(channel).catch(() => undefined);
    }
  }

  /** The connection that subscribes (pub/sub), made at its first use. */
  async #subscriber(): Promise<RedisClient> {
    if (!this.#subscriberClient) {
      const subscriber = this.#nodes
        ? this.#nodes.subscriberClient()
        : this.#client.duplicate();
      await this.#connect(subscriber);
      this.#subscriberClient = subscriber;
    }
    return this.#subscriberClient;
  }

  /**
   * Runs a script by SHA with its KEYS and ARGV, by its source when the
   * node does not know it (which loads it there). With
   * `durability=replicated`, waits for a replica unless `replicate` is
   * false (a write whose loss in a failover only makes a task run again).
   */
  async runScript(
    script: LuaScript,
    keys: readonly string[],
    argv: readonly RedisArgument[],
    replicate = true,
  ): Promise<RedisReply> {
    let sha = this.#shas.get(script);
    if (sha === undefined) {
      sha = createHash("sha1").update(script.source).digest("hex");
      this.#shas.set(script, sha);
    }
    const call = [
      String(keys.length),
      ...keys.map((key) => this.#keyBytes(key)),
      ...argv,
    ];
    try {
      return await this.#send(
        ["EVALSHA", sha, ...call],
        keys[0],
        undefined,
        replicate,
      );
    } catch (error) {
      if (!(error instanceof RedisReplyError && error.code === "NOSCRIPT")) {
        throw error;
      }
      return await this.#send(
        ["EVAL", script.source, ...call],
        keys[0],
        undefined,
        replicate,
      );
    }
  }

  /**
   * Closes: commands fail from now on; a blocked pop ends at once (it would
   * hold a graceful close for its whole timeout), the others after the
   * replies in flight.
   */
  async close(): Promise<void> {
    this.#closed = true;
    this.#unwatch?.();
    this.dropBlocking();
    await this.#subscriberClient?.close();
    await (this.#nodes ? this.#nodes.close() : this.#client.close());
  }

  /** Connects a client, or throws a clear error within the timeout. */
  async #connect(client: RedisClient): Promise<void> {
    const seconds = this.#connectTimeout;
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      await Promise.race([
        client.connect(),
        new Promise((_, reject) => {
          timer = setTimeout(
            () => reject(new Error(`no answer in ${seconds} s`)),
            seconds * 1000,
          );
        }),
      ]);
    } catch (error) {
      client.destroy();
      throw this.#cannotConnect(error);
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Sends a command to the node of `key` (or to `node`), following the
   * cluster's redirections and waiting for a lost connection, within the
   * connect timeout.
   */
  async #send(
    args: readonly RedisArgument[],
    key: string | undefined,
    node?: string,
    replicate = true,
  ): Promise<RedisReply> {
    const deadline = Date.now() + this.#connectTimeout * 1000;
    let asking: string | undefined;
    for (let redirects = 0;;) {
      const client = this.#route(key, asking ?? node);
      if (this.#nodes && !client.isReady) {
        // A node down: waited for a while, then routed again, the map read
        // meanwhile (its replica may have taken its slots over).
        if (Date.now() >= deadline) {
          throw new StoreConnectionError(
            `Cannot reach ${this.#url}: a node was not connected for ${this.#connectTimeout} s`,
          );
        }
        this.#nodes.refresh();
        await client.whenReady(
          Math.min(deadline - Date.now(), RETRY_PAUSE_MS),
        );
        continue;
      }
      try {
        if (asking !== undefined) {
          // Answered before the command, on the same connection.
          client.send(["ASKING"]).catch(() => undefined);
          asking = undefined;
        }
        if (!this.#replicas || !replicate || !writes(args)) {
          return await this.#sendOn(client, args, deadline);
        }
        const reply = this.#sendOn(client, args, deadline);
        const replicated = this.#replicas.after(client);
        // Said done once a replica has it too (or failed as the write did).
        const [written] = await Promise.all([
          reply,
          replicated.catch(async (error) => {
            await reply;
            throw error;
          }),
        ]);
        return written;
      } catch (error) {
        if (!(error instanceof RedisReplyError)) throw error;
        if (Date.now() >= deadline) throw error;
        if (isRedirect(error) && this.#nodes) {
          if (++redirects > MAX_REDIRECTS) throw error;
          if (error.code === "ASK") asking = error.message.split(" ")[2];
          else this.#redirected(error);
        } else if (error.code === "READONLY") {
          await this.#demoted(client);
        } else if (
          ["TRYAGAIN", "CLUSTERDOWN", "LOADING"].includes(error.code)
        ) {
          await delay(RETRY_PAUSE_MS);
        } else {
          throw error;
        }
      }
    }
  }

  /**
   * With `durability=replicated`, refuses to open (closing) when a primary
   * has no replica connected.
   */
  async #checkReplicas(): Promise<void> {
    const primaries = this.#nodes ? this.#nodes.primaries() : [this.#client];
    try {
      await this.#replicas?.check(primaries, this.#connectTimeout * 1000);
    } catch (error) {
      await this.close();
      throw error;
    }
  }

  /** The connection to the node of `key` (or `node`): the server's alone. */
  #route(key: string | undefined, node: string | undefined): RedisClient {
    if (!this.#nodes) return this.#client;
    if (node !== undefined) return this.#nodes.client(node);
    if (key !== undefined) return this.#nodes.clientFor(key);
    return this.#nodes.anyReady() ?? this.#nodes.clientFor("");
  }

  /**
   * The sentinels announced a new primary: the connections waiting to be
   * made again are made now (to it), not at their next retry.
   */
  #failedOver(): void {
    for (
      const client of [
        this.#client,
        this.#subscriberClient,
        ...[...this.#blockers.values()].map((blocker) => blocker.client),
      ]
    ) {
      client?.retryNow();
    }
  }

  /** Follows a MOVED reply: its slot is its node's from now on. */
  #redirected(error: RedisReplyError): void {
    const [, slot, node] = error.message.split(" ");
    if (error.code === "MOVED") this.#nodes?.moved(Number(slot), node);
  }

  /**
   * A node refused a write as a replica (a failover demoted it): on a
   * Cluster, the slot map is read again; else the connection is made anew
   * (through the sentinels, which name the new primary).
   */
  async #demoted(client: RedisClient): Promise<void> {
    if (this.#nodes) return await this.#nodes.refresh();
    if (client !== this.#client) return;
    this.#client = client.duplicate();
    client.destroy();
    await this.#connect(this.#client).catch(() => undefined);
  }

  /**
   * Runs a command once the connection is ready (waiting until `deadline`).
   */
  #sendOn(
    client: RedisClient,
    args: readonly RedisArgument[],
    deadline?: number,
  ): Promise<RedisReply> {
    return this.#callOn(client, () => client.send(args), deadline);
  }

  /**
   * Runs `call` on `client` once it is connected (waiting until
   * `deadline`); a connection lost meanwhile is a `ConnectionLostError`.
   */
  async #callOn<T>(
    client: RedisClient,
    call: () => Promise<T>,
    deadline = Date.now() + this.#connectTimeout * 1000,
  ): Promise<T> {
    if (this.#closed) throw new Error(`Store ${this.#url} is closed`);
    // Sent as soon as the connection is back, if it comes back in time.
    if (!await client.whenReady(Math.max(0, deadline - Date.now()))) {
      if (this.#closed) throw new Error(`Store ${this.#url} is closed`);
      throw new StoreConnectionError(
        `Cannot reach ${this.#url}: not connected for ${this.#connectTimeout} s`,
      );
    }
    try {
      return await call();
    } catch (error) {
      if (error instanceof RedisConnectionError) {
        this.#nodes?.refresh();
        throw new ConnectionLostError(
          `Lost the connection to ${this.#url}: ${error.message}`,
          { cause: error },
        );
      }
      throw error;
    }
  }

  /**
   * A key's bytes, encoded once: a script call names a queue's keys (19 of
   * them) every time, and encoding them a char at a time was most of the
   * cost of writing a claim or a finish.
   */
  #keyBytes(key: string): Uint8Array {
    let bytes = this.#encodedKeys.get(key);
    if (!bytes) {
      bytes = keyEncoder.encode(key);
      if (this.#encodedKeys.size >= 10_000) this.#encodedKeys.clear();
      this.#encodedKeys.set(key, bytes);
    }
    return bytes;
  }
}

/** True for a MOVED or ASK reply. */
function isRedirect(error: unknown): error is RedisReplyError {
  return error instanceof RedisReplyError &&
    (error.code === "MOVED" || error.code === "ASK");
}
