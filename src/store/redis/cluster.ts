/**
 * The nodes of a Redis Cluster as the store reaches them: the slot map read
 * from the cluster (`CLUSTER SLOTS`), and one connection to each primary,
 * made at its first use. `topology.ts` routes each command by its key's
 * slot through this map and follows the cluster's redirections.
 *
 * Invariants:
 * - Every slot has an owner once `connect` resolved: the map is replaced
 *   whole by a refresh, never left half read.
 * - A MOVED reply moves its slot at once (the command is sent again to the
 *   new owner) and asks for a refresh, as a failover or a resharding moves
 *   many slots together.
 * - One refresh at a time, and not more often than every
 *   `REFRESH_INTERVAL_MS` (a dead primary makes every command ask for one
 *   until its replica is promoted); it asks the nodes it knows, then the
 *   seeds, until one answers.
 * - A node that leaves the map has its connection closed; a connection that
 *   could not be made is forgotten (made again at the next use), so a node
 *   that comes back is reached again.
 * @module
 */
import calculateSlot from "cluster-key-slot";
import {
  type RedisAddress,
  RedisClient,
  type RedisClientOptions,
} from "./connection.ts";
import { list, number, text } from "./replies.ts";
import type { HostPort } from "./redis_url.ts";

/** The slots of a Redis Cluster. */
export const SLOTS = 16384;

/** Fewest milliseconds between two reads of the slot map. */
const REFRESH_INTERVAL_MS = 100;

/**
 * The slot of a key (of its `{hash tag}` when it has one): the CRC16 of
 * the Cluster specification, as ioredis and node-redis compute it (the
 * package has no types: typed here).
 */
export const slotOf: (key: string) => number = calculateSlot;

/** `host:port`, the name of a node in the map and in redirections. */
export function nodeName(node: HostPort): string {
  return `${node.hostname}:${node.port}`;
}

/** The node of a `host:port` (IPv6 hosts have colons: the port is last). */
export function parseNodeName(name: string): HostPort {
  const colon = name.lastIndexOf(":");
  return {
    hostname: name.slice(0, colon).replace(/^\[|\]$/g, ""),
    port: Number(name.slice(colon + 1)),
  };
}

/** A Redis Cluster's slot map and its primaries' connections. */
export class ClusterNodes {
  /** The owner (`host:port`) of each slot. */
  #owners: string[] = [];
  readonly #clients = new Map<string, RedisClient>();
  /** The nodes whose connection dropped and is not back. */
  readonly #down = new Set<string>();
  readonly #seeds: readonly HostPort[];
  /** How to reach a node: TLS, credentials, database (no host). */
  readonly #template: RedisAddress;
  readonly #options: RedisClientOptions;
  #refreshing?: Promise<void>;
  #lastRefresh = 0;
  #closed = false;

  private constructor(
    seeds: readonly HostPort[],
    template: RedisAddress,
    options: RedisClientOptions,
  ) {
    this.#seeds = seeds;
    this.#template = template;
    this.#options = options;
  }

  /**
   * The nodes of the cluster that `seed` (connected, on `seedAt`) is a node
   * of: reads the slot map through it, and keeps it as that node's
   * connection when that node is a primary.
   */
  static async connect(
    seed: RedisClient,
    seedAt: HostPort,
    seeds: readonly HostPort[],
    template: RedisAddress,
    options: RedisClientOptions,
  ): Promise<ClusterNodes> {
    const nodes = new ClusterNodes(seeds, template, options);
    nodes.#owners = await readSlotMap(seed, seedAt);
    const name = nodeName(seedAt);
    if (nodes.#owners.includes(name)) nodes.#clients.set(name, seed);
    else seed.destroy();
    nodes.#lastRefresh = Date.now();
    return nodes;
  }

  /** The `host:port` of the primary that owns `slot`. */
  ownerOf(slot: number): string {
    return this.#owners[slot];
  }

  /** The connection to the primary that owns `key`'s slot. */
  clientFor(key: string): RedisClient {
    return this.client(this.#owners[slotOf(key)]);
  }

  /** The connection to the node `name` (`host:port`), made at first use. */
  client(name: string): RedisClient {
    let client = this.#clients.get(name);
    if (!client) {
      client = this.newClient(parseNodeName(name));
      const made = client;
      this.#clients.set(name, made);
      made.onStateChange((state) => {
        if (state === "down") this.#down.add(name);
        else this.#down.delete(name);
      });
      made.connect().catch(() => {
        // Not reached: forgotten, to be made again at the next use; the
        // map may have changed (a dead primary, a failover).
        made.destroy();
        if (this.#clients.get(name) === made) this.#clients.delete(name);
        this.refresh();
      });
    }
    return client;
  }

  /** A connection of its own to `node` (not connected yet). */
  newClient(node: HostPort): RedisClient {
    return new RedisClient({ ...this.#template, ...node }, this.#options);
  }

  /**
   * False when the connection to the node that owns `key` dropped and is
   * not back (one being made for the first time is not down).
   */
  reachable(key: string): boolean {
    if (!this.#down.has(this.#owners[slotOf(key)])) return true;
    // Its replica may have taken over: the map is read again (once at a
    // time), for the next claims to go there.
    this.refresh();
    return false;
  }

  /** The connections to every primary, one each. */
  primaries(): RedisClient[] {
    return this.primaryNames().map((name) => this.client(name));
  }

  /** The `host:port` of every primary. */
  primaryNames(): string[] {
    return [...new Set(this.#owners)];
  }

  /**
   * A connection for pub/sub (not connected yet): to any node, as a
   * Cluster broadcasts what is published; when it drops, it is made again
   * to a primary that is connected then.
   */
  subscriberClient(): RedisClient {
    const somewhere = () =>
      parseNodeName(
        this.primaryNames().find((name) => this.#clients.get(name)?.isReady) ??
          this.#owners[0],
      );
    return new RedisClient({ ...this.#template, ...somewhere() }, {
      ...this.#options,
      locate: () => Promise.resolve(somewhere()),
    });
  }

  /** A primary that is connected now, if any (for commands of no key). */
  anyReady(): RedisClient | undefined {
    return this.primaries().find((client) => client.isReady);
  }

  /**
   * The cluster said `slot` is `name`'s now (a MOVED reply): routed there
   * from now on, and the whole map read again soon.
   */
  moved(slot: number, name: string): void {
    this.#owners[slot] = name;
    this.refresh();
  }

  /**
   * Reads the slot map again (once at a time, at most every
   * `REFRESH_INTERVAL_MS`); resolves when read, or when no node answered.
   */
  refresh(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#refreshing ??= (async () => {
      const wait = this.#lastRefresh + REFRESH_INTERVAL_MS - Date.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      try {
        await this.#readMap();
      } finally {
        this.#lastRefresh = Date.now();
        this.#refreshing = undefined;
      }
    })();
    return this.#refreshing;
  }

  /** Closes every connection. */
  async close(): Promise<void> {
    this.#closed = true;
    await Promise.all([...this.#clients.values()].map((c) => c.close()));
    this.#clients.clear();
  }

  /** Asks the known primaries, then the seeds, until one gives the map. */
  async #readMap(): Promise<void> {
    const known = [...this.#clients.entries()]
      .filter(([, client]) => client.isReady);
    for (const [name, client] of known) {
      if (this.#closed) return;
      const owners = await readSlotMap(client, parseNodeName(name))
        .catch(() => undefined);
      if (owners) return this.#use(owners);
    }
    for (const seed of this.#seeds) {
      if (this.#closed) return;
      const client = this.newClient(seed);
      try {
        await client.connect();
        return this.#use(await readSlotMap(client, seed));
      } catch {
        // Down too: the next seed.
      } finally {
        client.destroy();
      }
    }
  }

  /** Routes by `owners` now; closes the connections to nodes not in it. */
  #use(owners: string[]): void {
    this.#owners = owners;
    const live = new Set(owners);
    for (const [name, client] of this.#clients) {
      if (!live.has(name)) {
        this.#clients.delete(name);
        this.#down.delete(name);
        client.close();
      }
    }
  }
}

/**
 * The owner of each slot, from `CLUSTER SLOTS` asked of `client` (on
 * `at`, whose host stands for a node that reports none). Throws when a slot
 * has no owner: the cluster is not ready (or not whole).
 */
async function readSlotMap(
  client: RedisClient,
  at: HostPort,
): Promise<string[]> {
  const what = "CLUSTER SLOTS";
  const owners: string[] = new Array(SLOTS);
  for (const range of list(await client.send(["CLUSTER", "SLOTS"]), what)) {
    const [start, end, primary] = list(range, what, "range");
    const [host, port] = list(primary, what, "node");
    const reported = host === null ? "" : text(host, what, "host");
    // A node that does not know its address reports '' or '?'.
    const hostname = reported === "" || reported === "?"
      ? at.hostname
      : reported;
    const name = nodeName({ hostname, port: number(port, what, "port") });
    for (let slot = number(start, what); slot <= number(end, what); slot++) {
      owners[slot] = name;
    }
  }
  for (let slot = 0; slot < SLOTS; slot++) {
    if (owners[slot] === undefined) {
      throw new Error(`slot ${slot} has no node: the cluster is not whole`);
    }
  }
  return owners;
}
