/**
 * A Redis client on Deno's own sockets (`Deno.connect`, `Deno.startTls`),
 * speaking RESP2 (`resp.ts`): what the Redis store needs and nothing more.
 * It is our own because each round trip through the npm clients goes
 * through Deno's Node-compatibility socket layer, and that costs: measured
 * on our 2-core machine, a PING on an idle connection every 2 ms took p50
 * 0.22 ms and p99 1.3 ms through `npm:redis`, 0.07–0.14 ms and 0.6 ms on
 * `Deno.connect`.
 *
 * Invariants:
 * - Replies come back in the order commands were written; each command is
 *   answered once: with its reply, with the server's error (a
 *   {@linkcode RedisReplyError}, whose `code` is read here, once: callers
 *   decide by it, never by the text), or with a
 *   {@linkcode RedisConnectionError} when the connection is down or drops
 *   before the reply came.
 * - No offline queue: a command sent while the connection is down fails at
 *   once; the caller decides whether to wait and send it again.
 * - Commands given in one turn of the event loop go out in one write (as
 *   node-redis does, at `setImmediate`). A connection has one writer at a
 *   time, and its replies go to its own commands only: the reader and the
 *   writer of a dropped connection stop.
 * - No command waits for ever. A server that is stopped (SIGSTOP), hung or
 *   cut off still has its TCP connections open, so only a timeout notices:
 *   when the oldest command in flight has waited `commandTimeout` seconds
 *   (5) since it was written, or since bytes last came if later, the
 *   connection is dropped, what was in flight fails with a
 *   {@linkcode RedisTimeoutError}, and it is made again. A blocking command
 *   waits its own timeout more (BLPOP, BRPOP, BRPOPLPUSH, BLMOVE, BZPOPMIN,
 *   BZPOPMAX, BLMPOP, BZMPOP in seconds, WAIT and WAITAOF in ms; 0, for
 *   ever, is never cut; XREAD's BLOCK is not read: pq does not use it). It
 *   costs no timer per command (the hot path sends tens of thousands a
 *   second): one timer per connection, armed while commands are in flight,
 *   looks at the oldest.
 * - A connection is up (`isReady`) once the server answered its handshake:
 *   AUTH, SELECT and the SUBSCRIBEs, or a PING when there are none (a
 *   stopped server's backlog accepts a TCP connection). One attempt, from
 *   `locate()` through TCP, TLS and the handshake, takes `connectTimeout`
 *   seconds (5) at most. `connect()` fails with the cause (a refused AUTH is
 *   its {@linkcode RedisReplyError}: WRONGPASS, NOAUTH) and is not retried.
 * - A lost connection is made again for ever, until `close()`, at the
 *   address `locate()` gives (for Sentinel: the primary of the moment), and
 *   the channels listened to are subscribed again on it. Before attempt n
 *   (from 0, reset once connected) it waits a random time in [0, min(2 s,
 *   50 ms × 2^n)]: "full jitter", so the first retry after a blip is quick,
 *   and the many processes that lost a restarting server do not come back
 *   at the same moments, nor every 50 ms. With the 2 s cap and an attempt
 *   in flight bounded by `connectTimeout`, a server back from a stop serves
 *   again within about a second.
 * - Each failed retry goes to `onError`; `onStateChange` hears once "down"
 *   (with the cause) when a connection that was up drops, and once "up"
 *   when it is back.
 * - TCP keepalive is on, for TLS too (it is set on the TCP connection
 *   before `Deno.startTls`), with the system's delays, as Deno sets no
 *   others (on Linux the first probe comes after 2 h idle): it ends a
 *   connection to a host gone for good; the command timeout notices a
 *   server that stopped answering long before that.
 * @module
 */
import { untilAborted } from "../../model/_abort.ts";
import type { Buffer } from "node:buffer";
import { setImmediate } from "node:timers";
import {
  concat,
  encodeCommand,
  type RedisArgument,
  type RedisReply,
  ReplyReader,
} from "./resp.ts";

/**
 * The server answered a command with an error. Its `code` is the reply's
 * first word: `ERR`, `WRONGTYPE`, `NOSCRIPT`, `READONLY`, `MOVED`, `ASK`,
 * `LOADING`, `NOAUTH`, `WRONGPASS`..., or a script's own (`PQDUPLICATE`).
 */
export class RedisReplyError extends Error {
  override name = "RedisReplyError";
  /** The first word of the error reply, e.g. `NOSCRIPT`. */
  readonly code: string;

  /** The error of the reply `text` (`<CODE> <message>`). */
  constructor(text: string) {
    super(text);
    const space = text.indexOf(" ");
    this.code = space < 0 ? text : text.slice(0, space);
  }
}

/** The connection was down, or dropped before the reply came. */
export class RedisConnectionError extends Error {
  override name = "RedisConnectionError";
}

/**
 * The server did not answer in time: the connection was dropped (for a
 * command, after `commandTimeout`; for a connection, after
 * `connectTimeout`). Whether the commands in flight ran is unknown.
 */
export class RedisTimeoutError extends RedisConnectionError {
  override name = "RedisTimeoutError";
}

/** Where to connect, from a `redis://` or `rediss://` URL. */
export interface RedisAddress {
  hostname: string;
  port: number;
  tls: boolean;
  username?: string;
  password?: string;
  db: number;
  /** PEM certificates of the CAs a TLS server's certificate may chain to. */
  caCerts?: string[];
  /**
   * The name a TLS server's certificate must carry, when it is not the host
   * connected to (an IP address, a tunnel); also sent as SNI.
   */
  serverName?: string;
}

/** A server's host and port. */
export interface RedisHost {
  /** A host name or an IP address. */
  hostname: string;
  /** The TCP port. */
  port: number;
}

/** Options of a {@linkcode RedisClient}. */
export interface RedisClientOptions {
  /**
   * Seconds one attempt to connect may take, from `locate()` through TCP,
   * TLS and the handshake (AUTH, SELECT); 5 by default.
   */
  connectTimeout?: number;
  /**
   * Seconds the oldest command in flight may wait for its reply (a blocking
   * one: its own timeout more) before the connection is taken for dead,
   * dropped and made again; 5 by default.
   */
  commandTimeout?: number;
  /**
   * Where to connect, asked before every (re)connect (for Sentinel: the
   * current primary). Default: the address's host and port.
   */
  locate?: () => Promise<RedisHost>;
}

/** Whether a client's connection is up, as told to `onStateChange`. */
export type RedisConnectionState = "up" | "down";

interface Pending {
  resolve: (reply: RedisReply) => void;
  reject: (error: Error) => void;
  /** Milliseconds it may wait once it is the oldest in flight. */
  limit: number;
}

/** Listens to a channel: called with each message's payload. */
export type RedisMessageListener = (payload: Buffer) => void;

/** The longest wait before the first attempt to connect again, in ms. */
const RECONNECT_BASE_MS = 50;
/** The longest wait between two attempts to connect again, in ms. */
const RECONNECT_CAP_MS = 2000;

/** One connection to a Redis server, made again whenever it drops. */
export class RedisClient {
  readonly #address: RedisAddress;
  readonly #options: RedisClientOptions;
  readonly #connectTimeoutMs: number;
  readonly #commandTimeoutMs: number;
  /** Where the connection goes (`locate()`'s last answer). */
  #target: RedisHost;
  #conn?: Deno.Conn;
  #ready = false;
  #closed = false;
  /** Aborted by `destroy()`: ends a wait to reconnect, and an attempt. */
  readonly #stopped = new AbortController();
  readonly #pending: Pending[] = [];
  #out: Uint8Array[] = [];
  /** A flush is due or under way on the current connection. */
  #writing = false;
  /**
   * When the oldest command in flight began to wait (`performance.now()`):
   * when it was written, or when bytes last came, if later.
   */
  #since = 0;
  /** The timer that looks at the oldest command in flight (`#check`). */
  #watchdog?: ReturnType<typeof setTimeout>;
  /** Channels listened to (a subscribed connection), by full name. */
  readonly #channels = new Map<string, RedisMessageListener>();
  /** Subscribed once: its "message" arrays are messages, not replies. */
  #subscriber = false;
  #reconnecting?: Promise<void>;
  /** Ends the wait before the next attempt to connect (`retryNow`). */
  #wakeUp?: () => void;
  /** Callers of `whenReady`, told when the connection is up. */
  readonly #readyWaiters = new Set<() => void>();
  #onError?: (error: Error) => void;
  #onStateChange?: (state: RedisConnectionState, error?: Error) => void;

  /**
   * A client for `address`; `connect()` opens it. `options` may be the
   * connect timeout alone, in seconds.
   */
  constructor(
    address: RedisAddress,
    options: number | RedisClientOptions = {},
  ) {
    this.#address = address;
    this.#options = typeof options === "number"
      ? { connectTimeout: options }
      : options;
    this.#connectTimeoutMs = (this.#options.connectTimeout ?? 5) * 1000;
    this.#commandTimeoutMs = (this.#options.commandTimeout ?? 5) * 1000;
    this.#target = { hostname: address.hostname, port: address.port };
  }

  /** `host:port` of the server connected to, or to be connected to. */
  get address(): string {
    const { hostname, port } = this.#target;
    return hostname.includes(":")
      ? `[${hostname}]:${port}`
      : `${hostname}:${port}`;
  }

  /** True while commands can be sent. */
  get isReady(): boolean {
    return this.#ready;
  }

  /**
   * Resolves true once commands can be sent (at once if they can), false
   * after `ms` or on `close()`.
   */
  whenReady(ms: number): Promise<boolean> {
    if (this.#ready) return Promise.resolve(true);
    if (this.#closed) return Promise.resolve(false);
    return new Promise<boolean>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.#readyWaiters.delete(done);
        resolve(this.#ready);
      };
      const timer = setTimeout(done, ms);
      this.#readyWaiters.add(done);
    });
  }

  /** True until `close()`. */
  get isOpen(): boolean {
    return !this.#closed;
  }

  /**
   * Another client for the same server, with the same options (for
   * blocking or subscribing).
   */
  duplicate(): RedisClient {
    return new RedisClient(this.#address, this.#options);
  }

  /**
   * Called with each error of the connection: the drop of one that was up,
   * and each failed attempt to make it again.
   */
  onError(listener: (error: Error) => void): void {
    this.#onError = listener;
  }

  /**
   * Called once with "down" and the cause when a connection that was up
   * drops, and once with "up" when it is made again: once each an outage,
   * however many attempts failed in between (those go to `onError`). Not
   * called for `connect()`, nor on `close()`.
   */
  onStateChange(
    listener: (state: RedisConnectionState, error?: Error) => void,
  ): void {
    this.#onStateChange = listener;
  }

  /**
   * Connects, authenticates and selects the database; throws when that
   * fails (a refused AUTH with its {@linkcode RedisReplyError}) or takes
   * longer than the connect timeout. Not retried.
   */
  async connect(): Promise<void> {
    if (this.#closed) throw new RedisConnectionError("Client closed");
    await this.#open();
  }

  /** One attempt to connect, within the connect timeout: throws why not. */
  async #open(): Promise<void> {
    const attempt = new AbortController();
    const timer = setTimeout(
      () =>
        attempt.abort(
          new RedisTimeoutError(
            `No connection in ${
              this.#connectTimeoutMs / 1000
            } s to ${this.address}`,
          ),
        ),
      this.#connectTimeoutMs,
    );
    const onClose = () =>
      attempt.abort(new RedisConnectionError("Client closed"));
    this.#stopped.signal.addEventListener("abort", onClose);
    try {
      await this.#attempt(attempt.signal);
    } finally {
      clearTimeout(timer);
      this.#stopped.signal.removeEventListener("abort", onClose);
    }
  }

  async #attempt(signal: AbortSignal): Promise<void> {
    const { locate } = this.#options;
    if (locate) this.#target = await untilAborted(locate(), signal);
    const { hostname, port } = this.#target;
    const tcp = await Deno.connect({ hostname, port, signal }).catch(
      (error) => {
        throw signal.aborted ? signal.reason : error;
      },
    );
    // Probes an idle connection, so that one to a host gone for good ends.
    tcp.setKeepAlive(true);
    let conn: Deno.Conn = tcp;
    try {
      if (this.#address.tls) {
        const tls = await Deno.startTls(tcp, {
          hostname: this.#address.serverName ?? hostname,
          caCerts: this.#address.caCerts,
        });
        conn = tls;
        // Closing the connection ends a handshake cut by the signal.
        await untilAborted(tls.handshake(), signal);
      }
      signal.throwIfAborted();
    } catch (error) {
      closeQuietly(conn);
      throw error;
    }
    this.#conn = conn;
    this.#read(conn);
    const setup: RedisArgument[][] = [];
    const { username, password, db } = this.#address;
    if (password !== undefined) {
      setup.push(username ? ["AUTH", username, password] : ["AUTH", password]);
    }
    if (db !== 0) setup.push(["SELECT", String(db)]);
    for (const [channel] of this.#channels) setup.push(["SUBSCRIBE", channel]);
    // Up only once the server answered: a stopped one accepts TCP
    // connections (into its backlog) and answers nothing.
    if (setup.length === 0) setup.push(["PING"]);
    const onAbort = () => this.#drop(conn, signal.reason);
    signal.addEventListener("abort", onAbort);
    try {
      // No limit of their own: the attempt's timeout bounds them.
      await Promise.all(setup.map((args) => this.#write(args, Infinity)));
    } catch (error) {
      this.#drop(
        conn,
        new RedisConnectionError(`Handshake failed: ${messageOf(error)}`, {
          cause: error,
        }),
      );
      throw error;
    } finally {
      signal.removeEventListener("abort", onAbort);
    }
    // Closed by the server right after its replies: not up.
    if (this.#conn !== conn) {
      throw new RedisConnectionError("Socket closed during the handshake");
    }
    this.#ready = true;
    for (const waiter of [...this.#readyWaiters]) waiter();
  }

  /** Sends a command; resolves with its reply. */
  send(args: readonly RedisArgument[]): Promise<RedisReply> {
    if (this.#closed) {
      return Promise.reject(new RedisConnectionError("Client closed"));
    }
    if (!this.#ready) {
      return Promise.reject(
        new RedisConnectionError("ClientOffline: the connection is down"),
      );
    }
    return this.#write(args, this.#commandTimeoutMs + blockingMs(args));
  }

  /** Queues a command that may wait `limit` ms for its reply. */
  #write(args: readonly RedisArgument[], limit: number): Promise<RedisReply> {
    return new Promise<RedisReply>((resolve, reject) => {
      if (this.#pending.length === 0) this.#since = performance.now();
      this.#pending.push({ resolve, reject, limit });
      this.#out.push(encodeCommand(args));
      // Armed once for a run of commands, not once each (see `#check`).
      this.#watchdog ??= setTimeout(this.#check, this.#commandTimeoutMs);
      if (!this.#writing) {
        this.#writing = true;
        const conn = this.#conn;
        // After the callbacks of this turn (a microtask would write each
        // command of a chain of awaits alone): one write for all of them.
        setImmediate(() => this.#flush(conn));
      }
    });
  }

  /**
   * The watchdog: drops the connection when the oldest command in flight
   * waited past its limit; looks again while commands are in flight (at
   * least every `commandTimeout`, as the oldest changes), stops when none.
   */
  readonly #check = (): void => {
    this.#watchdog = undefined;
    const conn = this.#conn;
    const oldest = this.#pending[0];
    if (!conn || !oldest) return;
    const waited = performance.now() - this.#since;
    if (waited >= oldest.limit) {
      this.#drop(
        conn,
        new RedisTimeoutError(
          `No reply in ${oldest.limit / 1000} s from ${this.address}`,
        ),
      );
      return;
    }
    this.#watchdog = setTimeout(
      this.#check,
      Math.min(oldest.limit - waited, this.#commandTimeoutMs),
    );
  };

  /** Writes every queued command on `conn`, in one write per turn. */
  async #flush(conn: Deno.Conn | undefined): Promise<void> {
    try {
      while (conn && conn === this.#conn && this.#out.length > 0) {
        const chunks = this.#out;
        this.#out = [];
        let data = chunks.length === 1 ? chunks[0] : concat(chunks);
        while (data.length > 0) {
          const n = await conn.write(data);
          data = data.subarray(n);
        }
      }
    } catch (error) {
      if (conn) {
        this.#drop(
          conn,
          new RedisConnectionError(`Socket closed: ${messageOf(error)}`, {
            cause: error,
          }),
        );
      }
    } finally {
      // A dropped connection's writer leaves the flag to the next one's.
      if (conn === this.#conn) this.#writing = false;
    }
  }

  /** Reads replies until the connection ends, then makes it again. */
  async #read(conn: Deno.Conn): Promise<void> {
    const reader = new ReplyReader();
    const buffer = new Uint8Array(64 * 1024);
    let failure: unknown;
    try {
      for (;;) {
        const n = await conn.read(buffer);
        // Bytes of a dropped connection answer none of the next one's.
        if (n === null || conn !== this.#conn) break;
        this.#since = performance.now();
        reader.push(buffer.subarray(0, n));
        for (;;) {
          const next = reader.next();
          if (next === undefined) break;
          this.#deliver(next.reply, next.error);
        }
      }
    } catch (error) {
      failure = error;
    }
    this.#drop(
      conn,
      failure === undefined
        ? new RedisConnectionError("Socket closed by the server")
        : new RedisConnectionError(`Socket closed: ${messageOf(failure)}`, {
          cause: failure,
        }),
    );
  }

  #deliver(reply: RedisReply, error?: string): void {
    // On a subscribed connection a message is no reply to any command:
    // ["message", channel, payload].
    if (this.#subscriber && Array.isArray(reply) && reply.length === 3) {
      const [kind, channel, payload] = reply;
      if (String(kind) === "message") {
        this.#channels.get(String(channel))?.(payload as Buffer);
        return;
      }
    }
    const pending = this.#pending.shift();
    if (!pending) return;
    if (error !== undefined) pending.reject(new RedisReplyError(error));
    else pending.resolve(reply);
  }

  /**
   * Ends a connection: fails what waits on it with `error` and, if it was
   * up, makes it again (one that was not up yet fails its attempt, which
   * reports why).
   */
  #drop(conn: Deno.Conn, error: RedisConnectionError): void {
    if (this.#conn !== conn) return;
    const wasUp = this.#ready;
    this.#conn = undefined;
    this.#ready = false;
    this.#writing = false;
    clearTimeout(this.#watchdog);
    this.#watchdog = undefined;
    closeQuietly(conn);
    for (const pending of this.#pending.splice(0)) pending.reject(error);
    this.#out = [];
    if (this.#closed || !wasUp) return;
    this.#onError?.(error);
    this.#onStateChange?.("down", error);
    this.#reconnecting ??= this.#reconnect().finally(() =>
      this.#reconnecting = undefined
    );
  }

  /** Attempts to connect again, with backoff, until it is up or closed. */
  async #reconnect(): Promise<void> {
    for (let attempt = 0; !this.#closed; attempt++) {
      // Full jitter (see the module's header).
      const ceiling = Math.min(
        RECONNECT_CAP_MS,
        RECONNECT_BASE_MS * 2 ** attempt,
      );
      try {
        await this.#backoff(Math.random() * ceiling);
        await this.#open();
      } catch (error) {
        if (this.#closed) return;
        this.#onError?.(error instanceof Error ? error : new Error(`${error}`));
        continue;
      }
      this.#onStateChange?.("up");
      return;
    }
  }

  /**
   * Waits `ms` before the next attempt to connect; `retryNow()` ends the
   * wait at once, `close()` with an error.
   */
  #backoff(ms: number): Promise<void> {
    const stopped = this.#stopped.signal;
    return new Promise<void>((resolve, reject) => {
      const done = () => {
        clearTimeout(timer);
        stopped.removeEventListener("abort", stop);
        this.#wakeUp = undefined;
      };
      const stop = () => {
        done();
        reject(stopped.reason);
      };
      const timer = setTimeout(() => {
        done();
        resolve();
      }, ms);
      stopped.addEventListener("abort", stop, { once: true });
      this.#wakeUp = () => {
        done();
        resolve();
      };
    });
  }

  /**
   * Tries to connect again at once, if it is waiting to (a failover was
   * announced: the new primary is there now).
   */
  retryNow(): void {
    this.#wakeUp?.();
  }

  /**
   * Listens to a channel (this connection then only subscribes, pings and
   * unsubscribes): resolves once the server confirmed it.
   */
  async subscribe(
    channel: string,
    listener: RedisMessageListener,
  ): Promise<void> {
    this.#subscriber = true;
    this.#channels.set(channel, listener);
    await this.send(["SUBSCRIBE", channel]);
  }

  /** Stops listening to a channel. */
  async unsubscribe(channel: string): Promise<void> {
    if (!this.#channels.delete(channel)) return;
    await this.send(["UNSUBSCRIBE", channel]);
  }

  /** Closes after the replies in flight came (or at once, if it is down). */
  async close(): Promise<void> {
    if (this.#closed) return;
    if (this.#ready && this.#pending.length > 0) {
      await this.#write(["PING"], this.#commandTimeoutMs).catch(() =>
        undefined
      );
    }
    this.destroy();
  }

  /** Closes at once: what waits for a reply fails. */
  destroy(): void {
    this.#closed = true;
    this.#stopped.abort(new RedisConnectionError("Client closed"));
    for (const waiter of [...this.#readyWaiters]) waiter();
    const conn = this.#conn;
    if (conn) this.#drop(conn, new RedisConnectionError("Client closed"));
  }
}

/** Blocking commands whose last argument is their timeout, in seconds. */
const TIMEOUT_LAST = new Set([
  "BLPOP",
  "BRPOP",
  "BRPOPLPUSH",
  "BLMOVE",
  "BZPOPMIN",
  "BZPOPMAX",
]);

/**
 * How long a command may block on the server, in ms: its timeout argument
 * (Infinity for 0, for ever), or 0 for a command that does not block.
 */
function blockingMs(args: readonly RedisArgument[]): number {
  const name = args[0];
  if (typeof name !== "string") return 0;
  // Most commands start with neither B nor W: one comparison, no copy.
  const first = name.charCodeAt(0) | 0x20;
  if (first !== 0x62 && first !== 0x77) return 0;
  const upper = name.toUpperCase();
  if (TIMEOUT_LAST.has(upper)) return timeoutMs(args[args.length - 1], 1000);
  if (upper === "BLMPOP" || upper === "BZMPOP") return timeoutMs(args[1], 1000);
  if (upper === "WAIT") return timeoutMs(args[2], 1);
  if (upper === "WAITAOF") return timeoutMs(args[3], 1);
  return 0;
}

/** A timeout argument in ms (`unitMs` a unit): Infinity for 0. */
function timeoutMs(arg: RedisArgument | undefined, unitMs: number): number {
  if (arg === undefined) return 0;
  const value = Number(
    typeof arg === "string" ? arg : new TextDecoder().decode(arg),
  );
  // Not a timeout: the server refuses the command at once.
  if (!Number.isFinite(value) || value < 0) return 0;
  return value === 0 ? Infinity : value * unitMs;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch {
    // Already closed.
  }
}
