/**
 * Where the store's keys live, and how it reaches them: a single Redis
 * server, or a Redis Cluster. The one module of the store that knows how
 * keys map to nodes, how a command or a script is sent, and how the
 * connections for blocking and for pub/sub are made: the others ask it
 * and never branch on the kind of server themselves.
 *
 * Invariants:
 * - Every command and script goes to the server of the URL (on a Cluster,
 *   that node: a queue's keys share a hash tag, so one slot); the blocking
 *   pop has a connection of its own, made at its first use, and so has
 *   pub/sub. `close()` ends them all.
 * - On a single server a script may touch keys of any hash tag: a claim
 *   takes many queues in one script, the enqueue script hands tasks over to
 *   waiting workers, and the scripts that look for a task's id look in
 *   every queue (they are given the namespace). On a Cluster a script
 *   touches the keys of one slot only: queues are claimed one a script,
 *   nothing is handed over, and other queues are looked in before the
 *   script, by the caller (`singleServer` false).
 * - A command waits for a lost connection to come back, `connectTimeout`
 *   seconds at most, then fails with a `StoreConnectionError`. One whose
 *   connection dropped after it was sent fails with a
 *   {@linkcode ConnectionLostError}: whether the server ran it is unknown.
 * - A script is sent by its SHA, and loaded when the server does not know
 *   it: at its first use, and after the server restarted without its cache
 *   (an error reply of code `NOSCRIPT`).
 * @module
 */
import { StoreConnectionError } from "../../model/errors.ts";
import {
  type RedisAddress,
  RedisClient,
  RedisConnectionError,
  RedisReplyError,
} from "./connection.ts";
import type { LuaScript } from "./lua/script.ts";
import type { RedisArgument, RedisReply } from "./resp.ts";

/** Encodes keys once (see `#keyBytes`). */
const keyEncoder = new TextEncoder();

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

/** A single server or a Cluster, and the connections to it. */
export class Topology {
  readonly #url: string;
  readonly #connectTimeout: number;
  readonly #client: RedisClient;
  #blocker?: RedisClient;
  #subscriber?: RedisClient;
  #cluster = false;
  #closed = false;
  /** The SHA of each script loaded (loaded again on NOSCRIPT). */
  readonly #shas = new Map<LuaScript, string>();
  /** Keys as bytes, by name (see `#keyBytes`). */
  readonly #encodedKeys = new Map<string, Uint8Array>();

  private constructor(
    client: RedisClient,
    url: string,
    connectTimeout: number,
  ) {
    this.#client = client;
    this.#url = url;
    this.#connectTimeout = connectTimeout;
  }

  /**
   * Connects to the server at `address` and learns whether it is a Cluster.
   * Throws a `StoreConnectionError` naming `url` (masked) when it cannot be
   * reached within `connectTimeout` seconds.
   */
  static async connect(
    address: RedisAddress,
    url: string,
    connectTimeout: number,
  ): Promise<Topology> {
    const client = new RedisClient(address, connectTimeout);
    const topology = new Topology(client, url, connectTimeout);
    await topology.#connect(client);
    try {
      const info = String(await topology.send(["INFO", "cluster"]));
      topology.#cluster = /cluster_enabled:1/.test(info);
    } catch (error) {
      // Connected, but refused (a password the URL does not give): said
      // as such, and the connection closed, not left to reconnect.
      client.destroy();
      const refused = error instanceof RedisReplyError &&
        error.code === "NOAUTH";
      throw new StoreConnectionError(
        `Cannot connect to ${url}: ${
          refused
            ? "the server requires a password: give it in the URL (redis://:<password>@host:port)"
            : error instanceof Error
            ? error.message
            : String(error)
        }`,
        { cause: error },
      );
    }
    return topology;
  }

  /**
   * True on a single server, where a script may touch keys of any hash
   * tag; false on a Cluster, where those of one slot only.
   */
  get singleServer(): boolean {
    return !this.#cluster;
  }

  /**
   * The namespace as the scripts that may reach beyond their queue are
   * given it (to hand tasks over, to look in other queues): '' on a
   * Cluster, where they may not.
   */
  scriptNamespace(namespace: string): string {
    return this.#cluster ? "" : namespace;
  }

  /**
   * The queues one claim script takes together, in order: all of them on a
   * single server (one round trip); one a script on a Cluster, as their
   * keys live on other slots.
   */
  claimGroups(queues: readonly string[]): string[][] {
    return this.#cluster ? queues.map((queue) => [queue]) : [[...queues]];
  }

  /**
   * The keys one blocking pop waits on, for a waiter whose inbox is
   * `inbox` on the queues whose markers are `markers`: the inbox and every
   * marker on a single server. On a Cluster one pop takes keys of one slot
   * and nothing is handed over: the markers that share the first one's
   * hash tag (the others are looked at on each claim).
   */
  blockingKeys(inbox: string, markers: readonly string[]): string[] {
    if (!this.#cluster) return [inbox, ...markers];
    const slot = hashTag(markers[0]);
    return markers.filter((key) => hashTag(key) === slot);
  }

  /** True while the connection is up. */
  get isReady(): boolean {
    return this.#client.isReady;
  }

  /** True once `close()` was called. */
  get isClosed(): boolean {
    return this.#closed;
  }

  /** Sends a command; resolves with its reply. */
  send(args: readonly RedisArgument[]): Promise<RedisReply> {
    return this.#sendOn(this.#client, args);
  }

  /** Sends a command on the blocking connection, made at its first use. */
  async sendBlocking(args: readonly RedisArgument[]): Promise<RedisReply> {
    if (!this.#blocker || !this.#blocker.isOpen) {
      const blocker = this.#client.duplicate();
      await this.#connect(blocker);
      this.#blocker = blocker;
    }
    return await this.#sendOn(this.#blocker, args);
  }

  /**
   * Ends the blocking connection: a pop blocked on it fails at once (the
   * next one makes another).
   */
  dropBlocking(): void {
    this.#blocker?.destroy();
  }

  /** The connection that subscribes (pub/sub), made at its first use. */
  async subscriber(): Promise<RedisClient> {
    if (!this.#subscriber) {
      const subscriber = this.#client.duplicate();
      await this.#connect(subscriber);
      this.#subscriber = subscriber;
    }
    return this.#subscriber;
  }

  /**
   * Runs a script by SHA with its KEYS and ARGV, loading it when the server
   * does not know it.
   */
  async runScript(
    script: LuaScript,
    keys: readonly string[],
    argv: readonly RedisArgument[],
  ): Promise<RedisReply> {
    for (let attempt = 0; attempt < 2; attempt++) {
      let sha = this.#shas.get(script);
      if (sha === undefined) {
        sha = String(await this.send(["SCRIPT", "LOAD", script.source]));
        this.#shas.set(script, sha);
      }
      try {
        return await this.send([
          "EVALSHA",
          sha,
          String(keys.length),
          ...keys.map((key) => this.#keyBytes(key)),
          ...argv,
        ]);
      } catch (error) {
        if (!(error instanceof RedisReplyError && error.code === "NOSCRIPT")) {
          throw error;
        }
        this.#shas.delete(script); // The server restarted without its cache.
      }
    }
    throw new Error("unreachable: a script was loaded twice in a row");
  }

  /**
   * Closes: commands fail from now on; a blocked pop ends at once (it would
   * hold a graceful close for its whole timeout), the others after the
   * replies in flight.
   */
  async close(): Promise<void> {
    this.#closed = true;
    this.#blocker?.destroy();
    for (const client of [this.#subscriber, this.#client]) {
      await client?.close();
    }
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
      throw new StoreConnectionError(
        `Cannot connect to ${this.#url}: ${
          error instanceof Error ? error.message : String(error)
        }`,
        { cause: error },
      );
    } finally {
      clearTimeout(timer);
    }
  }

  /** Runs a command once the connection is ready (waiting a bounded time). */
  async #sendOn(
    client: RedisClient,
    args: readonly RedisArgument[],
  ): Promise<RedisReply> {
    if (this.#closed) throw new Error(`Store ${this.#url} is closed`);
    // Sent as soon as the connection is back, if it comes back in time.
    if (!await client.whenReady(this.#connectTimeout * 1000)) {
      if (this.#closed) throw new Error(`Store ${this.#url} is closed`);
      throw new StoreConnectionError(
        `Cannot reach ${this.#url}: not connected for ${this.#connectTimeout} s`,
      );
    }
    try {
      return await client.send(args);
    } catch (error) {
      if (error instanceof RedisConnectionError) {
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

/** The `{tag}` of a key, which decides its Cluster slot. */
function hashTag(key: string): string {
  return key.match(/\{[^}]+\}/)?.[0] ?? key;
}
