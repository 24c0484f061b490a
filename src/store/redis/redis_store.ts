/**
 * The Redis store: the distributed engine. Each state change is one Lua
 * script over the keys of one queue (a claim: of every queue it takes, on a
 * single server) (`lua/*.lua`, listed in `scripts.ts`), called with
 * its keys and arguments by name, through pq's own client
 * (`connection.ts`). Claims come in batches; idle workers block on the
 * server, and on a single server a task queued for an idle worker is
 * claimed for it and handed over with its wake-up; events go over pub/sub.
 * Works with Redis 7, Valkey, and (queue keys hash-tagged) Redis Cluster.
 * How a task ends when its worker did not end it is decided in
 * `_reasons.ts`, as in the SQLite store.
 *
 * Invariant of the hand-over: a task handed over is under a lease in the
 * waiter's name before it leaves the enqueue script, so it is the waiter's
 * to run (a wait or its next claim returns it), to give back (close), or,
 * if the waiter dies, to come back with its other tasks when its beat ends.
 *
 * Invariant of the search: a queue's `search` ZSET (id → timeQueued) lists
 * exactly the tasks that have a record in the queue, kept by the scripts
 * that write and drop records (one ZADD per task queued, one ZREM per task
 * dropped, inside them: no round trip more). A search walks these indexes
 * newest first and reads records in pipelined batches, a bounded number
 * per page; it costs nothing until someone searches.
 * @module
 */
import { Buffer } from "node:buffer";
import { maskUrl } from "../../model/_secrets.ts";
import { type Codec, codecFor, type CodecName } from "../../model/codec.ts";
import {
  parseWorkerStatus,
  type WorkerStatus,
} from "../../model/worker_status.ts";
import { StoreConnectionError } from "../../model/errors.ts";
import {
  redisAddress,
  RedisClient,
  RedisConnectionError,
  RedisReplyError,
} from "./connection.ts";
import type { RedisArgument, RedisReply } from "./resp.ts";
import { taskRateLimit } from "../../model/rate_limit.ts";
import { type DedupeOptions, taskPriority } from "../../model/queue_options.ts";
import { TaskStatus } from "../../model/status.ts";
import {
  parseTaskRecord,
  standInRecord,
  type TaskProgress,
  type TaskRecord,
} from "../../model/task.ts";
import {
  afterLeaseExpired,
  encodeOutcome,
  endedRecord,
  revokedQueued,
  revokedRunning,
  type StoreEnding,
} from "../_reasons.ts";
import {
  type LuaScript,
  scriptCall,
  type ScriptKeys,
  type ScriptNamed,
  type ScriptValue,
} from "./lua/script.ts";
import {
  ACQUIRE_LOCK,
  BEAT,
  CLAIM,
  ENQUEUE,
  ENQUEUE_UNIQUE,
  EXPIRE_LEASES,
  EXPIRED,
  FINISH,
  FLUSH,
  FORGET_QUEUE,
  JOIN_GROUP,
  PAUSE,
  PROGRESS,
  RELEASE,
  RELEASE_LOCK,
  RENEW,
  RESUME,
  REVOKE,
  SETTLE,
} from "./scripts.ts";
import { checkQueueName } from "../_queue_name.ts";
import { checkGroupJoin, checkSettled, memberValue } from "../_settle_join.ts";
import {
  type QueueKeys,
  queueOfKey,
  type RedisKeys,
  redisKeys,
} from "./keys.ts";
import type {
  BeatReport,
  ChannelMessage,
  Claim,
  ClaimRequest,
  Finish,
  Lease,
  MessageListener,
  QueueStats,
  ReclaimReport,
  RevokeOutcome,
  Store,
  StoreOptions,
  TaskPage,
  TaskQuery,
  UniqueOutcome,
} from "../store.ts";
import {
  comesBefore,
  encodeCursor,
  matchesFilter,
  parseTaskQuery,
  type SearchFilter,
  type SearchPosition,
  TEXT_SCAN_MAX,
} from "../task_query.ts";

/** Encodes keys once (see `#keyBytes`). */
const keyEncoder = new TextEncoder();
/** Seconds a command waits for a lost connection to come back. */
const CONNECT_WAIT_SECONDS = 5;
/** Tasks a claim looks at past those held back by a concurrency limit. */
const CLAIM_SCAN_EXTRA = 100;
/** Expired leases handled per queue per reclaim. */
const RECLAIM_BATCH = 500;
/**
 * Seconds between two registrations of a queue by one store while it queues
 * tasks in it (see {@linkcode RedisStore.queueNames}).
 */
const REGISTER_EVERY_SECONDS = 60;
/**
 * Seconds a queue's registration must be old before the registry may drop
 * it (when it holds no record): far more than producers take to renew it.
 */
const FORGET_AFTER_SECONDS = 10 * REGISTER_EVERY_SECONDS;
/** Search index entries (ZRANGE), and records (HMGET), read at once at most. */
const SEARCH_BATCH = 500;
/**
 * Index entries a search looks at for one page at most (their records are
 * read and decoded): the bound of a page with a text, or any filter that
 * few tasks pass; its cursor goes on from where it stopped.
 */
const SEARCH_SCAN_MAX = TEXT_SCAN_MAX;
/**
 * Entries a search going on from a cursor steps back over where others
 * share the cursor's time (then drops those not after the cursor): room
 * for tasks of that time dropped meanwhile.
 */
const SEARCH_TIE_SLACK = 16;

type Reply = RedisReply;
type Client = RedisClient;

/** Options of a Redis store beyond the common ones. */
export interface RedisStoreOptions extends StoreOptions {
  /** Seconds to wait for the server at start-up and after a disconnect. */
  connectTimeout?: number;
}

/** The parts of a `redis://host:port/db?namespace=pq` URL. */
export function parseRedisUrl(
  url: string,
): { clientUrl: string; namespace: string } {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new StoreConnectionError(
      `Cannot open store '${url}': not a URL (expected redis://host:port/db?namespace=pq)`,
    );
  }
  if (parsed.protocol !== "redis:" && parsed.protocol !== "rediss:") {
    throw new StoreConnectionError(
      `Cannot open store '${url}': the scheme must be redis:// or rediss://`,
    );
  }
  const db = parsed.pathname.replace(/^\//, "");
  if (db && !/^\d+$/.test(db)) {
    throw new StoreConnectionError(
      `Cannot open store '${url}': the database must be a number, got '${db}'`,
    );
  }
  const namespace = parsed.searchParams.get("namespace") ?? "pq";
  if (!/^[A-Za-z0-9_.-]+$/.test(namespace)) {
    throw new StoreConnectionError(
      `Cannot open store '${url}': namespace must be letters, digits, '_', '.' or '-', got '${namespace}'`,
    );
  }
  parsed.search = "";
  return { clientUrl: parsed.href, namespace };
}

/**
 * The Redis store. Open it with {@linkcode RedisStore.open}.
 */
export class RedisStore implements Store {
  readonly url: string;
  readonly #namespace: string;
  /** The names of this store's keys and channels. */
  readonly #layout: RedisKeys;
  /** Per worker beating here: its last status written, and beats since. */
  readonly #beats = new Map<string, { key: string; count: number }>();
  readonly #codec: Codec;
  readonly #now: () => number;
  readonly #resultTtl: number;
  readonly #connectTimeout: number;
  readonly #client: Client;
  #subscriber?: Client;
  #blocker?: Client;
  readonly #listeners = new Map<string, Set<MessageListener>>();
  /** Keys as bytes, by name (see `#keyBytes`). */
  readonly #encodedKeys = new Map<string, Uint8Array>();
  /** The SHA of each script loaded (reloaded on NOSCRIPT). */
  readonly #shas = new Map<LuaScript, string>();
  readonly #nextDue = new Map<string, number>();
  /** The blocking pop in flight on the blocking connection, if any. */
  #blocking?: Promise<"ready" | "delayed" | "handed" | false>;
  /**
   * This store's id as a waiter that tasks are handed to (single server):
   * its inbox is `<namespace>:inbox:<id>`.
   */
  readonly #waiter = crypto.randomUUID();
  /**
   * A claim registered this store as a waiter: its registration and its
   * inbox may hold entries until a claim that takes tasks (fewer than it
   * asked for from the inbox) has ended them.
   */
  #waited = false;
  /** Tasks handed over, not yet taken by a wait or a claim. */
  readonly #handed: Claim[] = [];
  /** The worker of the last registration: the tasks handed over are its. */
  #waitingAs = { worker: "", node: "" };
  /** A Redis Cluster: scripts touch only the keys of one queue's slot. */
  #cluster = false;
  /** When (store clock) this store last registered each queue it queued in. */
  readonly #registered = new Map<string, number>();
  /** When this store last dropped empty queues from the registry. */
  #lastForget = -Infinity;
  #closed = false;

  private constructor(
    client: Client,
    url: string,
    namespace: string,
    options: RedisStoreOptions,
  ) {
    this.url = maskUrl(url);
    this.#client = client;
    this.#namespace = namespace;
    this.#layout = redisKeys(namespace);
    this.#codec = codecFor(options.serializer);
    this.#now = options.now ?? (() => Date.now() / 1000);
    this.#resultTtl = options.resultTtl;
    this.#connectTimeout = options.connectTimeout ?? CONNECT_WAIT_SECONDS;
  }

  /**
   * Connects to the server of a `redis://host:port/db?namespace=pq` URL.
   * Throws a `StoreConnectionError` for a bad URL, or when the server cannot
   * be reached within `connectTimeout` seconds.
   */
  static async open(
    url: string,
    options: RedisStoreOptions,
  ): Promise<RedisStore> {
    const { clientUrl, namespace } = parseRedisUrl(url);
    const timeout = options.connectTimeout ?? CONNECT_WAIT_SECONDS;
    const client = new RedisClient(redisAddress(clientUrl), timeout);
    const store = new RedisStore(client, url, namespace, options);
    await store.#connect(client, timeout);
    const info = String(await store.#send(client, ["INFO", "cluster"]));
    store.#cluster = /cluster_enabled:1/.test(info);
    return store;
  }

  /** Connects a client, or throws a clear error within `seconds`. */
  async #connect(client: Client, seconds: number): Promise<void> {
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
        `Cannot connect to ${this.url}: ${
          error instanceof Error ? error.message : String(error)
        }`,
        { cause: error },
      );
    } finally {
      clearTimeout(timer);
    }
  }

  /** Runs a command once the connection is ready (waiting a bounded time). */
  async #send(
    client: Client,
    args: readonly RedisArgument[],
  ): Promise<Reply> {
    if (this.#closed) throw new Error(`Store ${this.url} is closed`);
    // Sent as soon as the connection is back, if it comes back in time.
    if (!await client.whenReady(this.#connectTimeout * 1000)) {
      if (this.#closed) throw new Error(`Store ${this.url} is closed`);
      throw new StoreConnectionError(
        `Cannot reach ${this.url}: not connected for ${this.#connectTimeout} s`,
      );
    }
    try {
      return await client.send(args);
    } catch (error) {
      if (error instanceof RedisConnectionError) {
        throw new ConnectionLostError(
          `Lost the connection to ${this.url}: ${
            error instanceof Error ? error.message : error
          }`,
          { cause: error },
        );
      }
      throw error;
    }
  }

  /**
   * Runs a script by SHA with its keys and arguments by name (ordered from
   * its header, which they must match), loading it when the server does not
   * know it.
   */
  async #run(
    script: LuaScript,
    keys: ScriptKeys,
    args: ScriptNamed,
  ): Promise<Reply> {
    const call = scriptCall(script, keys, args);
    const argv = call.argv.map((arg) =>
      typeof arg === "number" ? String(arg) : arg
    );
    for (let attempt = 0; attempt < 2; attempt++) {
      let sha = this.#shas.get(script);
      if (sha === undefined) {
        sha = String(
          await this.#send(this.#client, ["SCRIPT", "LOAD", script.source]),
        );
        this.#shas.set(script, sha);
      }
      try {
        return await this.#send(this.#client, [
          "EVALSHA",
          sha,
          String(call.keys.length),
          ...call.keys.map((key) => this.#keyBytes(key)),
          ...argv,
        ]);
      } catch (error) {
        if (!isReplyError(error, "NOSCRIPT")) throw error;
        this.#shas.delete(script); // The server restarted without its cache.
      }
    }
    throw new Error("unreachable: a script was loaded twice in a row");
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

  #keys(queue: string): QueueKeys {
    return this.#layout.queue(queue);
  }

  #channel(name: string): string {
    return this.#layout.channel(name);
  }

  /**
   * What the scripts that queue a task (`enqueue`, `enqueue_unique`, and
   * `finish` for a retry, whose fields it prefixes with `retry`) are told
   * of it, with its encoded record.
   */
  #queuedFields(task: TaskRecord, record: Uint8Array) {
    return {
      id: task.id,
      due: task.timeQueued + task.delay,
      queued: task.timeQueued,
      record,
      limit: this.#limitOf(task),
      name: task.name,
    };
  }

  /**
   * The `limit` argument of the scripts that queue a task: its job's
   * maxConcurrency ('' for none), then a tab and its priority when it has
   * one, then a tab and its rate limit (tasks, per and key, tab-separated)
   * when it has one, its priority '' then if it has none (kept together in
   * the queue's `limits` hash; see `_helpers.lua`); '' for none of them.
   */
  #limitOf(task: TaskRecord): string {
    const limit = task.meta.maxConcurrency;
    const text =
      typeof limit === "number" && Number.isInteger(limit) && limit > 0
        ? String(limit)
        : "";
    const priority = taskPriority(task);
    const rate = taskRateLimit(task);
    if (rate) {
      return `${text}\t${
        priority || ""
      }\t${rate.tasks}\t${rate.per}\t${rate.key}`;
    }
    return priority === 0 ? text : `${text}\t${priority}`;
  }

  #decode(
    payload: Buffer | string,
  ): { ok: true; record: TaskRecord } | { ok: false; reason: string } {
    let value: unknown;
    try {
      value = this.#codec.decode(toBytes(payload));
    } catch (error) {
      return {
        ok: false,
        reason: `Cannot decode task record with ${this.#codec.name}: ${
          error instanceof Error ? error.message : String(error)
        }`,
      };
    }
    return parseTaskRecord(value);
  }

  /** The bytes of a value (sent as they are: no copy into a `Buffer`). */
  #encode(value: unknown): Uint8Array {
    return this.#codec.encode(value);
  }

  async enqueue(tasks: readonly TaskRecord[]): Promise<void> {
    const byQueue = new Map<string, TaskRecord[]>();
    for (const task of tasks) {
      if (task.queue === null) {
        throw new TypeError(`Cannot queue task ${task.id} without a queue`);
      }
      const list = byQueue.get(task.queue) ?? [];
      list.push(task);
      byQueue.set(task.queue, list);
    }
    const encoded = new Map(tasks.map((task) => [task.id, this.#encode(task)]));
    // All or none per queue (one script); queues are separate on a Cluster.
    await Promise.all([...byQueue].map(async ([queue, list]) => {
      const args = {
        now: this.#now(),
        channel: this.#channel("task"),
        queue,
        // Tasks are handed to waiting workers on a single server only.
        namespace: this.#cluster ? "" : this.#namespace,
        tasks: list.map((task) =>
          this.#queuedFields(task, encoded.get(task.id)!)
        ),
      };
      // A connection lost with the script in flight leaves its fate
      // unknown: send it again. The ids are new, so "duplicate" on the
      // second try means the first one landed.
      for (let attempt = 1;; attempt++) {
        try {
          // The registration, then the script, pipelined on one connection
          // (so in that order): `get(id)` finds a queued task.
          await Promise.all([
            this.#register(queue),
            this.#run(ENQUEUE, this.#keys(queue), args),
          ]);
          return;
        } catch (error) {
          const duplicate = isReplyError(error, "PQDUPLICATE");
          if (duplicate && attempt > 1) return;
          if (duplicate) {
            throw new Error(
              `Cannot queue tasks: ${
                error.message.slice(error.code.length + 1)
              }`,
              { cause: error },
            );
          }
          if (attempt > 1 || !isLostInFlight(error)) throw error;
        }
      }
    }));
  }

  /**
   * One script on the task's queue (`enqueue_unique.lua`), which on a single
   * server also looks in the other queues of the registry. On a Cluster,
   * where the script sees one queue's slot, the other queues are looked in
   * first (not in the same step).
   */
  async enqueueUnique(
    task: TaskRecord,
    dedupe?: DedupeOptions,
  ): Promise<UniqueOutcome> {
    const queue = task.queue;
    if (queue === null) {
      throw new TypeError(`Cannot queue task ${task.id} without a queue`);
    }
    if (this.#cluster) {
      const there = await this.#storedElsewhere(task.id, queue);
      if (there) return { queued: false, reason: "id", task: there };
    }
    const args = {
      now: this.#now(),
      channel: this.#channel("task"),
      queue,
      namespace: this.#cluster ? "" : this.#namespace,
      ...this.#queuedFields(task, this.#encode(task)),
      dedupeKey: dedupe?.key ?? "",
      dedupeTtl: dedupe?.ttl ?? "",
    };
    const keys = this.#keys(queue);
    // A connection lost with the script in flight: sent again, and our own
    // task found there means the first one landed.
    for (let attempt = 1;; attempt++) {
      let reply: Reply[];
      try {
        [, reply] = await Promise.all([
          this.#register(queue),
          this.#run(ENQUEUE_UNIQUE, keys, args) as Promise<Reply[]>,
        ]);
      } catch (error) {
        if (attempt > 1 || !isLostInFlight(error)) throw error;
        continue;
      }
      const outcome = String(reply[0]);
      if (outcome === "queued") return { queued: true };
      const decoded = this.#decode(reply[1] as Buffer);
      if (!decoded.ok) {
        throw new Error(
          `Cannot queue task ${task.id}: a task is there (${outcome}) and its record cannot be read: ${decoded.reason}`,
        );
      }
      const there = withStart(decoded.record, reply[2]);
      if (
        attempt > 1 && there.id === task.id &&
        there.timeQueued === task.timeQueued
      ) return { queued: true };
      return {
        queued: false,
        reason: outcome === "dedupe" ? "dedupe" : "id",
        task: there,
      };
    }
  }

  async claim(request: ClaimRequest): Promise<Claim[]> {
    // Tasks handed over to a wait that had ended (its pop left in flight,
    // or a registration made as a hand-over came) go back to their queue
    // first: this claim takes them again in their queue's order, after a
    // task of a higher priority queued since. Run at once, they would jump
    // it.
    const late = this.#handed.splice(0);
    if (late.length > 0) await this.release(late);
    const claims: Claim[] = [];
    const started: Uint8Array[] = [];
    let fromInbox = 0;
    const now = this.#now();
    // A claim that finds nothing registers this store as a waiter, for
    // tasks queued while it waits to be handed over (single server).
    const wait = request.waitSeconds ?? 0;
    const register = !this.#cluster && wait > 0;
    // Only then is there an inbox to read and a registration to end.
    const inbox = register && this.#waited;
    const args = {
      now,
      leaseEnd: now + request.leaseSeconds,
      prefix: crypto.randomUUID(),
      startInfo: JSON.stringify([now, request.worker, request.node]),
      scanExtra: CLAIM_SCAN_EXTRA,
      namespace: register ? this.#namespace : "",
      waiter: register ? this.#waiter : "",
      inbox: inbox ? "1" : "0",
      waitUntil: now + wait,
      waiterInfo: JSON.stringify([
        request.max,
        request.leaseSeconds,
        request.worker,
        request.node,
      ]),
    };
    // One script for every queue on a single server (one round trip); on a
    // Cluster one a queue, in order, as their keys live on other slots.
    const groups = this.#cluster
      ? request.queues.map((queue) => [queue])
      : [request.queues];
    for (const queues of groups) {
      const max = request.max - claims.length;
      if (max <= 0) break;
      const [first, ...more] = queues.map((queue) => this.#keys(queue));
      const reply = await this.#run(CLAIM, { ...first, more }, {
        ...args,
        max,
        queues: queues.map((name) => ({ name })),
      }) as Reply[];
      queues.forEach((queue, q) => {
        const due = String(reply[q]);
        this.#nextDue.set(queue, due ? Number(due) : Infinity);
      });
      for (let i = queues.length; i < reply.length; i += 6) {
        const handedAt = String(reply[i + 5]);
        const claim = this.#claimOf(request, startTime(reply[i + 5], now), {
          queue: queues[Number(reply[i]) - 1],
          id: String(reply[i + 1]),
          token: String(reply[i + 2]),
          redeliveries: Number(String(reply[i + 3])),
          payload: reply[i + 4] as Buffer,
        });
        claims.push(claim);
        // Handed over earlier, announced then.
        if (handedAt !== "") fromInbox++;
        else if (claim.task) started.push(reply[i + 4] as Buffer);
      }
    }
    if (register && claims.length === 0) {
      this.#waited = true;
      this.#waitingAs = { worker: request.worker, node: request.node };
    } else if (inbox && fromInbox < request.max) {
      this.#waited = false; // Registration ended, inbox read to its end.
    }
    this.#announceStarted(started, now, request);
    return claims;
  }

  /** A claim from what a script returned for one task. */
  #claimOf(
    who: { worker: string; node: string },
    now: number,
    taken: {
      queue: string;
      id: string;
      token: string;
      redeliveries: number;
      payload: Buffer;
    },
  ): Claim {
    const { queue, id, token, redeliveries } = taken;
    const claim: Claim = { id, token, redeliveries, queue };
    const decoded = this.#decode(taken.payload);
    if (decoded.ok) {
      claim.name = decoded.record.name;
      claim.task = {
        ...decoded.record,
        status: TaskStatus.STARTED,
        timeStarted: now,
        worker: who.worker,
        node: who.node,
      };
    } else {
      claim.malformed = decoded.reason;
    }
    return claim;
  }

  /**
   * Publishes `started` for tasks this worker took, once it has them (so a
   * task's `started` reaches others after its worker began it): their
   * records as stored, not encoded again, in one message whose event name
   * carries their start (`started <JSON [time, worker, node]>`, applied by
   * the subscriber's `#deliver`). A notice: not waited for.
   */
  #announceStarted(
    records: readonly Uint8Array[],
    time: number,
    who: { worker: string; node: string },
  ): void {
    if (records.length === 0) return;
    const event = `started ${JSON.stringify([time, who.worker, who.node])}`;
    const [name, body] = records.length === 1
      ? [event, records[0]]
      : [`*${event}`, encodedList(this.#codec.name, records)];
    this.#publish("task", name, body).catch(
      () => undefined, // A lost notice; the tasks run all the same.
    );
  }

  async waitForTasks(
    queues: readonly string[],
    seconds: number,
    signal?: AbortSignal,
  ): Promise<Claim[]> {
    const deadline = Date.now() + seconds * 1000;
    // On a Cluster one blocking pop takes keys of one slot only: block on
    // the markers that share the first queue's hash tag; the others are
    // looked at on each claim (at least every `seconds`). On a single
    // server, on this store's inbox too, where tasks are handed over.
    const all = queues.map((queue) => this.#keys(queue).marker);
    const keys = this.#cluster
      ? all.filter((key) => hashTag(key) === hashTag(all[0]))
      : [this.#inboxKey(), ...all];
    while (!signal?.aborted && !this.#closed && this.#handed.length === 0) {
      const now = this.#now();
      const due = Math.min(
        ...queues.map((queue) => this.#nextDue.get(queue) ?? Infinity),
      );
      if (due <= now) break;
      const wait = Math.min((deadline - Date.now()) / 1000, due - now);
      if (wait <= 0) break;
      const popped = await this.#block(keys, wait, signal);
      if (this.#closed || signal?.aborted || popped === "ready") break;
      if (popped === "handed") break;
      // A marker says a task was queued: due now, or delayed but due before
      // the others (then wait for it).
      if (popped && await this.#anyDue(queues).catch(() => true)) break;
    }
    // A wait whose signal aborted leaves them for the next claim.
    if (signal?.aborted) return [];
    const handed = this.#handed.splice(0);
    if (handed.length > 0) {
      // A registration made as these were handed over (by a claim on the
      // other connection) would hand more to this worker, now busy: it
      // ends here. Then a hand-over it missed is given back by the claim.
      this.#send(this.#client, ["HDEL", this.#layout.waiting, this.#waiter])
        .catch(() => undefined);
    }
    return handed;
  }

  #inboxKey(): string {
    return this.#layout.inbox(this.#waiter);
  }

  /**
   * The blocking pop on the markers (and the inbox): "ready" when a task
   * was queued ready, "delayed" when a delayed one may be due sooner,
   * "handed" when tasks were handed over (now in `#handed`), false after
   * `seconds`. One pop at a time: a caller that stops waiting (its signal
   * aborts) leaves it running, and the next caller waits on the same one,
   * so the blocking connection is never torn down and never has two
   * commands queued; what it pops is kept until a wait or a claim takes it.
   */
  async #block(
    keys: string[],
    seconds: number,
    signal?: AbortSignal,
  ): Promise<"ready" | "delayed" | "handed" | false> {
    this.#blocking ??= (async () => {
      try {
        const blocker = await this.#blockingClient();
        const reply = await this.#send(blocker, [
          "BLMPOP",
          Math.max(0.01, seconds).toFixed(2),
          String(keys.length),
          ...keys,
          "LEFT",
          "COUNT",
          "1000",
        ]) as [Buffer, Buffer[]] | null;
        if (reply === null) return false;
        const [key, entries] = reply;
        if (String(key) === this.#inboxKey()) {
          this.#takeHanded(entries);
          return "handed";
        }
        return String(entries[0]) === "d" ? "delayed" : "ready";
      } catch {
        // Closed or disconnected: the caller claims (and waits) again.
        return "ready";
      } finally {
        this.#blocking = undefined;
      }
    })();
    if (!signal) return await this.#blocking;
    if (signal.aborted) return "ready";
    const aborted = new Promise<"ready">((resolve) =>
      signal.addEventListener("abort", () => resolve("ready"), { once: true })
    );
    return await Promise.race([this.#blocking, aborted]);
  }

  /** Keeps the tasks popped from the inbox (announced by the hand-over). */
  #takeHanded(entries: readonly Buffer[]): void {
    const now = this.#now();
    // The records of each hand-over, by its time, to announce them.
    const started = new Map<number, Uint8Array[]>();
    const claims = entries.flatMap((entry) => {
      const fields = unframe(entry);
      // Not ours to read: its lease runs out and it is queued again.
      if (fields.length !== 5 && fields.length !== 6) return [];
      const [queue, id, token, redeliveries, payload, handedAt] = fields;
      const time = startTime(handedAt, now);
      const claim = this.#claimOf(this.#waitingAs, time, {
        queue: queue.toString(),
        id: id.toString(),
        token: token.toString(),
        redeliveries: Number(redeliveries.toString()),
        payload,
      });
      if (claim.task) started.set(time, [...started.get(time) ?? [], payload]);
      return claim;
    });
    this.#handed.push(...claims);
    for (const [time, records] of started) {
      this.#announceStarted(records, time, this.#waitingAs);
    }
  }

  /** True when a queue has a ready task; learns when delayed ones are due. */
  async #anyDue(queues: readonly string[]): Promise<boolean> {
    const now = this.#now();
    const states = await Promise.all(queues.map(async (queue) => {
      const keys = this.#keys(queue);
      const [ready, first, prioritized] = await Promise.all([
        this.#send(this.#client, ["LLEN", keys.ready]),
        this.#send(this.#client, [
          "ZRANGE",
          keys.delayed,
          "0",
          "0",
          "WITHSCORES",
        ]),
        this.#send(this.#client, ["EXISTS", keys.prio]),
      ]) as [number, Reply[], number];
      const due = first[1] ? Number(String(first[1])) : Infinity;
      this.#nextDue.set(queue, due);
      return Number(ready) > 0 || Number(prioritized) > 0 || due <= now;
    }));
    return states.some(Boolean);
  }

  async #blockingClient(): Promise<Client> {
    if (!this.#blocker || !this.#blocker.isOpen) {
      const blocker = this.#client.duplicate();
      await this.#connect(blocker, this.#connectTimeout);
      this.#blocker = blocker;
    }
    return this.#blocker;
  }

  async renew(
    leases: readonly Lease[],
    leaseSeconds: number,
  ): Promise<{ lost: string[]; revoked: string[] }> {
    const states = new Map<Lease, number>();
    const until = this.#now() + leaseSeconds;
    await Promise.all([...this.#byQueue(leases)].map(async ([queue, list]) => {
      const reply = await this.#run(RENEW, this.#keys(queue), {
        leaseEnd: until,
        leases: list.map(({ id, token }) => ({ id, token })),
      }) as number[];
      list.forEach((lease, i) => states.set(lease, Number(reply[i])));
    }));
    // 0: lost, 1: renewed, 2: renewed and asked to stop; in the given order.
    return {
      lost: leases.filter((lease) => !states.get(lease)).map((l) => l.id),
      revoked: leases.filter((lease) => states.get(lease) === 2).map((l) =>
        l.id
      ),
    };
  }

  /** Groups leases by their queue, which their token names. */
  #byQueue<T extends Lease>(leases: readonly T[]): Map<string, T[]> {
    const groups = new Map<string, T[]>();
    for (const lease of leases) {
      const queue = queueOfToken(lease.token);
      const list = groups.get(queue) ?? [];
      list.push(lease);
      groups.set(queue, list);
    }
    return groups;
  }

  async finish(outcomes: readonly Finish[]): Promise<boolean[]> {
    return await this.#finish(outcomes, false);
  }

  async #finish(
    outcomes: readonly Finish[],
    onlyExpired: boolean,
  ): Promise<boolean[]> {
    const now = this.#now();
    const written = new Map<Finish, boolean>();
    await Promise.all(
      [...this.#byQueue(outcomes)].map(async ([queue, list]) => {
        const groups: Array<Record<string, string | number | Uint8Array>> = [];
        for (const outcome of list) {
          const retry = outcome.retry;
          const record = encodeOutcome(this.#codec, outcome).payload;
          const written = { id: outcome.id, token: outcome.token, record };
          if (retry) {
            groups.push({
              ...written,
              ...retryFields(this.#queuedFields(retry, this.#encode(retry))),
            });
          } else {
            groups.push({
              ...written,
              ...retryFields(NO_RETRY),
            });
          }
        }
        const reply = await this.#run(FINISH, this.#keys(queue), {
          now,
          channel: this.#channel("task"),
          expires: now + this.#resultTtl,
          onlyExpired: onlyExpired ? "1" : "0",
          outcomes: groups,
        }) as number[];
        list.forEach((outcome, i) =>
          written.set(outcome, Number(reply[i]) === 1)
        );
      }),
    );
    return outcomes.map((outcome) => written.get(outcome) ?? false);
  }

  async release(leases: readonly Lease[]): Promise<void> {
    await Promise.all([...this.#byQueue(leases)].map(async ([queue, list]) => {
      const now = this.#now();
      const [, revoked] = await this.#run(RELEASE, this.#keys(queue), {
        now,
        channel: this.#channel("task"),
        count: "0",
        onlyExpired: "0",
        leases: list.map(({ id, token }) => ({ id, token })),
      }) as [Reply[], Reply[]];
      await this.#endRevoked(queue, revoked, now, false);
    }));
  }

  /**
   * The final record of a running task that the store ends itself, its
   * worker having not: the stored record, or a stand-in for a malformed one.
   */
  #endedRecord(
    queue: string,
    id: string,
    payload: Reply,
    now: number,
    ending: StoreEnding,
  ): TaskRecord {
    const decoded = this.#decode(payload as Buffer);
    const base = decoded.ok
      ? decoded.record
      : standInRecord({ id, queue }, now);
    return endedRecord(base, ending, now);
  }

  /**
   * Ends REVOKED the tasks, `(id, token, record)...`, that RELEASE kept
   * under their lease because their revoke was asked for; resolves with
   * the ids it ended.
   */
  async #endRevoked(
    queue: string,
    entries: Reply[],
    now: number,
    onlyExpired: boolean,
  ): Promise<string[]> {
    const outcomes: Finish[] = [];
    for (let i = 0; i < entries.length; i += 3) {
      const id = String(entries[i]);
      outcomes.push({
        id,
        token: String(entries[i + 1]),
        task: this.#endedRecord(
          queue,
          id,
          entries[i + 2],
          now,
          revokedRunning(id),
        ),
      });
    }
    if (outcomes.length === 0) return [];
    const written = await this.#finish(outcomes, onlyExpired);
    return outcomes.filter((_, i) => written[i]).map((outcome) => outcome.id);
  }

  async reclaim(
    maxRedeliveries: number,
    queues: readonly string[] = [...this.#nextDue.keys()],
  ): Promise<ReclaimReport> {
    const report: ReclaimReport = { redelivered: 0, failed: 0, changed: [] };
    for (const queue of queues) {
      const now = this.#now();
      const reply = await this.#run(EXPIRED, this.#keys(queue), {
        now,
        limit: RECLAIM_BATCH,
      }) as Reply[];
      const again: Lease[] = [];
      const ended: Finish[] = [];
      for (let i = 0; i < reply.length; i += 5) {
        const id = String(reply[i]);
        const token = String(reply[i + 1]);
        const redeliveries = Number(String(reply[i + 2])) + 1;
        const ending = afterLeaseExpired(
          id,
          redeliveries,
          maxRedeliveries,
          Number(reply[i + 4]) === 1,
        );
        if (!ending) {
          again.push({ id, token });
          continue;
        }
        const task = this.#endedRecord(queue, id, reply[i + 3], now, ending);
        ended.push({ id, token, task });
      }
      if (again.length) {
        const [released, revoked] = await this.#run(
          RELEASE,
          this.#keys(queue),
          {
            now,
            channel: this.#channel("task"),
            count: "1",
            onlyExpired: "1",
            leases: again.map(({ id, token }) => ({ id, token })),
          },
        ) as [Reply[], Reply[]];
        report.redelivered += released.length;
        report.changed.push(...released.map(String));
        // Revoked between EXPIRED and RELEASE.
        report.changed.push(
          ...await this.#endRevoked(queue, revoked, now, true),
        );
      }
      if (ended.length) {
        const written = await this.#finish(ended, true);
        ended.forEach((finish, i) => {
          if (!written[i]) return;
          if (finish.task.status === TaskStatus.FAILURE) report.failed++;
          report.changed.push(finish.id);
        });
      }
    }
    return report;
  }

  /**
   * One script on the task's queue (`settle.lua`), which on a single
   * server also looks in the other queues of the registry, and writes what
   * a finished task leaves; the queue is registered with it, so that
   * searches and `get` find the record. On a Cluster, where the script sees
   * one queue's slot, the other queues are looked in first (not in the same
   * step), as `enqueueUnique` does.
   */
  async settle(task: TaskRecord): Promise<boolean> {
    const queue = checkSettled(task);
    if (this.#cluster && await this.#storedElsewhere(task.id, queue)) {
      return false;
    }
    const record = this.#encode(task);
    const now = this.#now();
    const args = {
      now,
      channel: this.#channel("task"),
      queue,
      namespace: this.#cluster ? "" : this.#namespace,
      id: task.id,
      queued: task.timeQueued,
      record,
      expires: now + this.#resultTtl,
    };
    const keys = this.#keys(queue);
    // A connection lost with the script in flight: sent again, and our own
    // record found there means the first one landed.
    for (let attempt = 1;; attempt++) {
      let reply: Reply;
      try {
        [, reply] = await Promise.all([
          this.#register(queue),
          this.#run(SETTLE, keys, args),
        ]);
      } catch (error) {
        if (attempt > 1 || !isLostInFlight(error)) throw error;
        continue;
      }
      if (typeof reply !== "number") {
        return attempt > 1 && Buffer.isBuffer(reply) && reply.equals(record);
      }
      return true;
    }
  }

  /**
   * One script on the group's HASH (`join_group.lua`, one key: any slot of
   * a Cluster). Sent again when the connection is lost with it in flight:
   * recording an index twice keeps the first value and answers the same.
   */
  async joinGroup(
    group: string,
    index: number,
    total: number,
    value: unknown,
  ): Promise<unknown[] | undefined> {
    checkGroupJoin(group, index, total);
    const args = {
      index,
      total,
      value: this.#encode(memberValue(value)),
      // EXPIRE 0 would drop the group at once: a second at least.
      ttl: Math.max(1, Math.ceil(this.#resultTtl)),
    };
    for (let attempt = 1;; attempt++) {
      let reply: Reply;
      try {
        reply = await this.#run(
          JOIN_GROUP,
          { group: this.#layout.group(group) },
          args,
        );
      } catch (error) {
        if (attempt > 1 || !isLostInFlight(error)) throw error;
        continue;
      }
      if (!Array.isArray(reply)) return undefined;
      return reply.map((bytes) =>
        this.#codec.decode(toBytes(bytes as Buffer | string))
      );
    }
  }

  async revoke(id: string): Promise<RevokeOutcome> {
    const queue = (await this.#find(id))?.queue;
    if (queue === undefined) return "unknown";
    const keys = this.#keys(String(queue));
    for (let attempt = 0; attempt < 10; attempt++) {
      const seen = await this.#send(this.#client, ["HGET", keys.tasks, id]) as
        | Buffer
        | null;
      const decoded = seen ? this.#decode(seen) : undefined;
      const now = this.#now();
      const revoked = endedRecord(
        decoded?.ok
          ? decoded.record
          : standInRecord({ id, queue: String(queue) }, now),
        revokedQueued(id),
        now,
      );
      const outcome = String(
        await this.#run(REVOKE, keys, {
          channel: this.#channel("task"),
          expires: now + this.#resultTtl,
          id,
          seen: seen ?? "",
          revoked: this.#encode(revoked),
        }),
      );
      if (outcome === "requested") await this.#revokeRunning(id);
      if (outcome !== "changed") return outcome as RevokeOutcome;
    }
    return "requested";
  }

  /**
   * Tells the worker running a task to stop it now (channel `control`,
   * event `revoke`); the revoke set the script wrote is the fallback its
   * worker reads when it renews the lease, should this message be lost.
   */
  async #revokeRunning(id: string): Promise<void> {
    await this.publish({ channel: "control", event: "revoke", data: id })
      .catch(() => undefined);
  }

  async get(id: string): Promise<TaskRecord | undefined> {
    const found = await this.#find(id);
    if (!found) return undefined;
    const { done, queued, started } = found;
    const payload = done ?? queued;
    if (!payload) return undefined;
    const decoded = this.#decode(payload);
    if (!decoded.ok) throw new Error(`Task ${id}: ${decoded.reason}`);
    if (done || !started) return decoded.record;
    const [timeStarted, worker, node] = JSON.parse(String(started));
    return {
      ...decoded.record,
      status: TaskStatus.STARTED,
      timeStarted,
      worker,
      node,
    };
  }

  /**
   * The stored task of `id`, in whichever queue of the registry holds it:
   * a task has no key of its own (no index of ids to write for each task),
   * so each queue is looked in, with one pipelined round trip for all. Its
   * record: final (`done`), or queued or running (`queued`, with `started`
   * while it runs).
   */
  async #find(id: string): Promise<
    | {
      queue: string;
      done: Buffer | null;
      queued: Buffer | null;
      started: Reply;
    }
    | undefined
  > {
    const queues = await this.#registeredQueues();
    const found = await Promise.all(queues.map(async (queue) => {
      const keys = this.#keys(queue);
      const [done, queued, started] = await Promise.all([
        this.#send(this.#client, ["HGET", keys.done, id]),
        this.#send(this.#client, ["HGET", keys.tasks, id]),
        this.#send(this.#client, ["HGET", keys.started, id]),
      ]) as [Buffer | null, Buffer | null, Reply];
      return { queue, done, queued, started };
    }));
    return found.find((entry) => entry.done ?? entry.queued);
  }

  /** A task of `id` stored in a queue other than `queue` (a Cluster's check). */
  async #storedElsewhere(
    id: string,
    queue: string,
  ): Promise<TaskRecord | undefined> {
    const found = await this.#find(id);
    if (!found || this.#keys(found.queue).tasks === this.#keys(queue).tasks) {
      return undefined;
    }
    return await this.get(id);
  }

  /**
   * Searches the tasks of the queues' search indexes (ZSET id →
   * timeQueued): every queue's index walked newest first (`ZRANGE ... REV
   * BYSCORE`), merged by (time, id), the records of each batch read with
   * HMGET and tested. At most `SEARCH_SCAN_MAX` entries are looked at per
   * page; a page that stops there has a `next` cursor. A record that cannot
   * be read is passed over, never thrown.
   */
  async searchTasks(query: TaskQuery): Promise<TaskPage> {
    const filter = parseTaskQuery(query);
    const queues = filter.queue !== undefined
      ? [filter.queue]
      : await this.#registeredQueues();
    const walks = queues.map((queue) => this.#indexWalk(queue, filter));
    if (filter.after) await this.#skipTies(walks, filter.after);
    const tasks: TaskRecord[] = [];
    let looked = 0;
    let last: SearchPosition | undefined;
    const more = () =>
      walks.some((walk) => walk.buffer.length > 0 || !walk.done);
    while (looked < SEARCH_SCAN_MAX) {
      const batch = await this.#nextEntries(
        walks,
        filter,
        Math.min(SEARCH_BATCH, SEARCH_SCAN_MAX - looked),
      );
      if (batch.length === 0) return { tasks };
      const records = await this.#readRecords(batch);
      for (let i = 0; i < batch.length; i++) {
        looked++;
        last = batch[i];
        const record = records[i];
        if (!record || !matchesFilter(record, filter)) continue;
        tasks.push(record);
        if (tasks.length === filter.limit) {
          return i < batch.length - 1 || more()
            ? { tasks, next: encodeCursor(last) }
            : { tasks };
        }
      }
    }
    return last && more() ? { tasks, next: encodeCursor(last) } : { tasks };
  }

  /** A walk down a queue's search index, from the top of the query's range. */
  #indexWalk(queue: string, filter: SearchFilter): IndexWalk {
    const until = filter.until;
    const after = filter.after;
    // From the cursor's time (inclusive: others may share it), or from the
    // end of the range.
    const fromCursor = after !== undefined &&
      (until === undefined || after.time < until);
    return {
      keys: this.#keys(queue),
      buffer: [],
      max: fromCursor
        ? String(after.time)
        : until === undefined
        ? "+inf"
        : `(${until}`,
      maxScore: fromCursor ? after.time : undefined,
      min: filter.since === undefined ? "-inf" : String(filter.since),
      offset: 0,
      // Small first (a page of the newest tasks reads no more), then more.
      count: Math.min(SEARCH_BATCH, filter.limit + 1),
      done: false,
    };
  }

  /**
   * Going on from a cursor: in each index that holds the cursor's task at
   * its time, starts past the tasks of that time before it (from their
   * rank), rather than reading them all (a `queueMany` gives thousands of
   * tasks one time). A few are read again and dropped, for room.
   */
  async #skipTies(
    walks: readonly IndexWalk[],
    after: SearchPosition,
  ): Promise<void> {
    await Promise.all(walks.map(async (walk) => {
      if (walk.maxScore !== after.time) return;
      const key = walk.keys.search;
      const [score, rank, newer] = await Promise.all([
        this.#send(this.#client, ["ZSCORE", key, after.id]),
        this.#send(this.#client, ["ZREVRANK", key, after.id]),
        this.#send(this.#client, ["ZCOUNT", key, `(${after.time}`, "+inf"]),
      ]);
      if (score === null || rank === null) return;
      if (Number(String(score)) !== after.time) return;
      walk.offset = Math.max(
        0,
        Number(rank) - Number(newer) + 1 - SEARCH_TIE_SLACK,
      );
    }));
  }

  /**
   * The next entries of the merged walks, newest first, `max` at most: only
   * those no walk can still come before (each walk's buffer refilled
   * first), so the order across queues holds.
   */
  async #nextEntries(
    walks: readonly IndexWalk[],
    filter: SearchFilter,
    max: number,
  ): Promise<IndexEntry[]> {
    for (;;) {
      const empty = walks.filter((walk) =>
        walk.buffer.length === 0 && !walk.done
      );
      if (empty.length === 0) break;
      await Promise.all(empty.map((walk) => this.#fetchIndex(walk, filter)));
    }
    // The oldest entry fetched by a walk that has more is as far as the
    // merge goes: that walk's next entries come after it.
    let frontier: IndexEntry | undefined;
    for (const walk of walks) {
      const tail = walk.buffer.at(-1);
      if (!walk.done && tail && (!frontier || comesBefore(tail, frontier))) {
        frontier = tail;
      }
    }
    const out: IndexEntry[] = [];
    while (out.length < max) {
      let next: IndexWalk | undefined;
      for (const walk of walks) {
        const head = walk.buffer[0];
        if (head && (!next || comesBefore(head, next.buffer[0]))) next = walk;
      }
      if (!next) break;
      if (frontier && comesBefore(frontier, next.buffer[0])) break;
      out.push(next.buffer.shift()!);
    }
    return out;
  }

  /**
   * Reads the next entries of a walk's index (`count`, then twice as many,
   * up to `SEARCH_BATCH`), keeping those after the query's cursor.
   */
  async #fetchIndex(walk: IndexWalk, filter: SearchFilter): Promise<void> {
    const reply = await this.#send(this.#client, [
      "ZRANGE",
      walk.keys.search,
      walk.max,
      walk.min,
      "BYSCORE",
      "REV",
      "LIMIT",
      String(walk.offset),
      String(walk.count),
      "WITHSCORES",
    ]) as Reply[];
    // RESP3 answers [member, score] pairs, RESP2 a flat list.
    const flat = reply.flat();
    const fetched = flat.length / 2;
    if (fetched < walk.count) walk.done = true;
    walk.count = Math.min(SEARCH_BATCH, walk.count * 2);
    if (fetched === 0) return;
    const scores: number[] = [];
    for (let i = 0; i < fetched; i++) {
      const entry = {
        id: String(flat[2 * i]),
        time: Number(String(flat[2 * i + 1])),
        walk,
      };
      scores.push(entry.time);
      // Those of the cursor's time that come before it (skipped by rank
      // but for a few) were on the pages before.
      if (filter.after && !comesBefore(filter.after, entry)) continue;
      walk.buffer.push(entry);
    }
    // The next read starts at the last time read, past the entries of that
    // time read so far (ties come in a fixed order: by id, descending).
    const lastText = String(flat[flat.length - 1]);
    const lastScore = scores[fetched - 1];
    let same = 0;
    while (same < fetched && scores[fetched - 1 - same] === lastScore) same++;
    walk.offset = same === fetched && walk.maxScore === lastScore
      ? walk.offset + fetched
      : same;
    walk.max = lastText;
    walk.maxScore = lastScore;
  }

  /**
   * The records of index entries, undefined where there is none or it
   * cannot be read: a queue's records of a batch in one pipelined HMGET of
   * `done`, `tasks` and `started` (a running task reads as `get` reads it).
   */
  async #readRecords(
    entries: readonly IndexEntry[],
  ): Promise<Array<TaskRecord | undefined>> {
    const byWalk = new Map<IndexWalk, number[]>();
    entries.forEach((entry, i) => {
      const list = byWalk.get(entry.walk) ?? [];
      list.push(i);
      byWalk.set(entry.walk, list);
    });
    const out: Array<TaskRecord | undefined> = entries.map(() => undefined);
    await Promise.all([...byWalk].map(async ([walk, indexes]) => {
      const ids = indexes.map((i) => entries[i].id);
      const { done, tasks, started } = walk.keys;
      const [finished, queued, starts] = await Promise.all(
        [done, tasks, started].map((key) =>
          this.#send(this.#client, ["HMGET", key, ...ids])
        ),
      ) as Reply[][];
      indexes.forEach((entry, n) => {
        out[entry] = this.#searchRecord(
          finished[n] as Buffer | null,
          queued[n] as Buffer | null,
          starts[n] as Buffer | null,
        );
      });
    }));
    return out;
  }

  /**
   * A task as `get` reads it (a finished record, else the queued one,
   * STARTED while it runs), or undefined when it is gone or cannot be read.
   */
  #searchRecord(
    done: Buffer | null,
    queued: Buffer | null,
    started: Buffer | null,
  ): TaskRecord | undefined {
    const payload = done ?? queued;
    if (!payload) return undefined;
    const decoded = this.#decode(payload);
    if (!decoded.ok) return undefined;
    if (done || !started) return decoded.record;
    const runner = startedInfo(started);
    return runner ? { ...decoded.record, ...runner } : decoded.record;
  }

  /**
   * Sizes from one pipelined round trip for every queue, and one more for
   * the records of the oldest ready tasks. Delayed tasks already due are
   * ready (the next claim moves them to the ready list); the latency is
   * that of the oldest task due, ready or still in the delayed set.
   */
  async queueStats(queues?: readonly string[]): Promise<QueueStats[]> {
    const names = queues ?? await this.queueNames();
    const now = this.#now();
    const replies = await Promise.all(names.map((queue) => {
      const keys = this.#keys(queue);
      return Promise.all([
        this.#send(this.#client, ["LLEN", keys.ready]),
        this.#send(this.#client, ["ZCARD", keys.delayed]),
        this.#send(this.#client, ["ZCOUNT", keys.delayed, "-inf", String(now)]),
        this.#send(this.#client, [
          "ZRANGE",
          keys.delayed,
          "0",
          "0",
          "WITHSCORES",
        ]),
        this.#send(this.#client, ["ZCARD", keys.running]),
        this.#send(this.#client, ["LINDEX", keys.ready, "-1"]),
        this.#send(this.#client, ["ZCARD", keys.prio]),
        // The next of the highest priority and the last of the lowest: the
        // oldest task with a priority is one of them when one priority is
        // used; with more, its latency is read from these two only.
        this.#send(this.#client, ["ZRANGE", keys.prio, "0", "0"]),
        this.#send(this.#client, ["ZRANGE", keys.prio, "-1", "-1"]),
      ]);
    }));
    // The ready list is pushed on the left and popped on the right: its
    // oldest is its last; when it became due is in its record.
    const oldest = await Promise.all(names.map((queue, q) => {
      const ids = [
        replies[q][5],
        ...(replies[q][7] as Reply[]),
        ...(replies[q][8] as Reply[]),
      ].filter((id) => id !== null);
      return ids.length === 0 ? [] : this.#send(this.#client, [
        "HMGET",
        this.#keys(queue).tasks,
        ...ids.map(String),
      ]) as Promise<Reply[]>;
    }));
    return names.map((queue, q) => {
      const [ready, delayed, dueDelayed, firstDelayed, running] = replies[q];
      const prioritized = Number(replies[q][6]);
      const due = Number(dueDelayed);
      let since = Infinity;
      const first = (firstDelayed as Reply[]).flat();
      if (due > 0 && first.length === 2) since = Number(String(first[1]));
      for (const record of oldest[q]) {
        const decoded = record ? this.#decode(record as Buffer) : undefined;
        if (decoded?.ok) {
          since = Math.min(
            since,
            decoded.record.timeQueued + decoded.record.delay,
          );
        }
      }
      return {
        queue,
        ready: Number(ready) + prioritized + due,
        delayed: Number(delayed) - due,
        running: Number(running),
        latency: Number.isFinite(since) ? Math.max(0, now - since) : 0,
      };
    });
  }

  /**
   * Reads the running task's record, sets its progress, and writes it back
   * in one script that checks the lease and publishes `progress` (with the
   * task as `get` reads it: STARTED, by its worker).
   */
  async setProgress(lease: Lease, progress: TaskProgress): Promise<boolean> {
    const keys = this.#keys(queueOfToken(lease.token));
    const [stored, started] = await Promise.all([
      this.#send(this.#client, ["HGET", keys.tasks, lease.id]),
      this.#send(this.#client, ["HGET", keys.started, lease.id]),
    ]) as Array<Buffer | null>;
    if (!stored || !started) return false; // Not running here (any more).
    const decoded = this.#decode(stored);
    // A record that cannot be read was never handed to a job to report on.
    if (!decoded.ok) return false;
    const record: TaskRecord = { ...decoded.record, progress };
    const reply = await this.#run(PROGRESS, keys, {
      channel: this.#channel("task"),
      id: lease.id,
      token: lease.token,
      record: this.#encode(record),
      event: this.#encode({ ...record, ...startedInfo(started) }),
    });
    return Number(reply) === 1;
  }

  /**
   * Sets the queue's `paused` key (pause.lua, which publishes `paused`),
   * after registering the queue (pipelined): the registry is where
   * {@linkcode pausedQueues} looks, and it keeps a paused queue.
   */
  async pauseQueue(queue: string): Promise<boolean> {
    checkQueueName(queue, "pause queue");
    const now = this.#now();
    const [, reply] = await Promise.all([
      this.#send(this.#client, [
        "ZADD",
        this.#layout.queues,
        String(now),
        queue,
      ]),
      this.#run(PAUSE, this.#keys(queue), {
        now,
        channel: this.#channel("queue"),
        name: this.#encode(queue),
      }),
    ]);
    return Number(reply) === 1;
  }

  /** Drops the queue's `paused` key and wakes a worker (resume.lua). */
  async resumeQueue(queue: string): Promise<boolean> {
    checkQueueName(queue, "resume queue");
    const reply = await this.#run(RESUME, this.#keys(queue), {
      channel: this.#channel("queue"),
      name: this.#encode(queue),
    });
    return Number(reply) === 1;
  }

  /**
   * The registered queues whose `paused` key exists (a pause registers its
   * queue; the registry keeps a queue while it is paused).
   */
  async pausedQueues(): Promise<string[]> {
    return await this.#registeredHaving("paused");
  }

  async sizes(queues: readonly string[]): Promise<number[]> {
    return await Promise.all(queues.map(async (queue) => {
      const keys = this.#keys(queue);
      const [ready, delayed, prioritized] = await Promise.all([
        this.#send(this.#client, ["LLEN", keys.ready]),
        this.#send(this.#client, ["ZCARD", keys.delayed]),
        this.#send(this.#client, ["ZCARD", keys.prio]),
      ]);
      return Number(ready) + Number(delayed) + Number(prioritized);
    }));
  }

  /**
   * The queues whose `tasks` hash exists: it holds the record of every
   * queued and running task, and Redis drops it when the last one ends.
   *
   * The candidates come from the registry of queues (`<ns>:queues`, ZSET
   * queue → when it was registered), not from a SCAN of the database, which
   * walks every key (65 ms with 100,000 retained tasks) and which the
   * dashboard would run every 2 s. The registry costs little to keep: a
   * store registers a queue with its first enqueue there and again once a
   * minute while it queues in it (pipelined with the enqueue script: on a
   * Cluster the registry lives on another slot), and it follows no finish,
   * revoke or flush: a queue is live when its keys exist, read here. An
   * entry with no records left, not paused and not registered for 10
   * minutes is dropped (`forget_queue.lua`: unless registered again
   * meanwhile; a pause registers its queue too). A
   * namespace without a registry (written by an older pq) is found by SCAN
   * once, and registered.
   */
  async queueNames(): Promise<string[]> {
    return await this.#registeredHaving("tasks");
  }

  /** The registered queues whose key `key` exists, sorted. */
  async #registeredHaving(key: keyof QueueKeys): Promise<string[]> {
    const queues = await this.#registeredQueues();
    const exists = await Promise.all(
      queues.map((queue) =>
        this.#send(this.#client, ["EXISTS", this.#keys(queue)[key]])
      ),
    );
    return queues.filter((_, i) => Number(exists[i]) === 1);
  }

  /** Registers a queue of this store's enqueue, once a minute at most. */
  async #register(queue: string): Promise<void> {
    const now = this.#now();
    if (
      now - (this.#registered.get(queue) ?? -Infinity) < REGISTER_EVERY_SECONDS
    ) {
      return;
    }
    this.#registered.set(queue, now);
    try {
      await this.#send(this.#client, [
        "ZADD",
        this.#layout.queues,
        String(now),
        queue,
      ]);
    } catch (error) {
      this.#registered.delete(queue); // Again with the next enqueue.
      throw error;
    }
  }

  /**
   * Every queue of the registry, sorted (see {@linkcode queueNames}); now
   * and then it drops the entries that have no records left.
   */
  async #registeredQueues(): Promise<string[]> {
    const reply = await this.#send(this.#client, [
      "ZRANGE",
      this.#layout.queues,
      "0",
      "-1",
      "WITHSCORES",
    ]) as Reply[];
    const flat = reply.flat();
    if (flat.length === 0) return await this.#registerFound();
    const entries: Array<[string, string]> = [];
    for (let i = 0; i < flat.length; i += 2) {
      entries.push([String(flat[i]), String(flat[i + 1])]);
    }
    const now = this.#now();
    if (now - this.#lastForget >= REGISTER_EVERY_SECONDS) {
      this.#lastForget = now;
      const old = entries.filter(([, at]) =>
        Number(at) < now - FORGET_AFTER_SECONDS
      );
      const forgotten = await this.#forgetEmpty(old);
      return entries.map(([queue]) => queue)
        .filter((queue) => !forgotten.has(queue)).sort();
    }
    return entries.map(([queue]) => queue).sort();
  }

  /**
   * Drops registry entries whose queue holds no record and is not paused;
   * says which.
   */
  async #forgetEmpty(
    entries: ReadonlyArray<[string, string]>,
  ): Promise<Set<string>> {
    const forgotten = new Set<string>();
    await Promise.all(entries.map(async ([queue, registered]) => {
      const { tasks, search, paused } = this.#keys(queue);
      const held = await this.#send(this.#client, [
        "EXISTS",
        tasks,
        search,
        paused,
      ]);
      if (Number(held) !== 0) return;
      const dropped = await this.#run(
        FORGET_QUEUE,
        { registry: this.#layout.queues },
        { queue, registered },
      );
      if (Number(dropped) === 1) forgotten.add(queue);
    }));
    return forgotten;
  }

  /**
   * The queues of a namespace without a registry, found by SCAN (their
   * `tasks` hash or `search` set), registered now.
   */
  async #registerFound(): Promise<string[]> {
    const found = [
      ...new Set([
        ...await this.#scanQueues("tasks", "hash"),
        ...await this.#scanQueues("search", "zset"),
      ]),
    ].sort();
    if (found.length > 0) {
      const now = String(this.#now());
      await this.#send(this.#client, [
        "ZADD",
        this.#layout.queues,
        ...found.flatMap((queue) => [now, queue]),
      ]);
    }
    return found;
  }

  /**
   * The queues whose key `name` exists, of Redis type `type`, sorted: found
   * by SCAN, which walks every key of the database (on a Cluster, of the
   * node this client talks to: the store sends every command to one node).
   */
  async #scanQueues(
    name: "tasks" | "search",
    type: "hash" | "zset",
  ): Promise<string[]> {
    const pattern = name === "tasks"
      ? this.#layout.tasksPattern
      : this.#layout.searchPattern;
    const names = new Set<string>();
    let cursor = "0";
    do {
      const [next, keys] = await this.#send(this.#client, [
        "SCAN",
        cursor,
        "MATCH",
        pattern,
        "COUNT",
        "1000",
        "TYPE",
        type,
      ]) as [Reply, Reply[]];
      cursor = String(next);
      for (const key of keys) {
        const queue = queueOfKey(this.#namespace, String(key), name);
        if (queue !== undefined) names.add(queue);
      }
    } while (cursor !== "0");
    return [...names].sort();
  }

  async flush(queues: readonly string[]): Promise<number> {
    let total = 0;
    for (const queue of queues) {
      const ids = await this.#run(FLUSH, this.#keys(queue), {}) as Reply[];
      total += ids.length;
    }
    return total;
  }

  async publish(message: ChannelMessage): Promise<void> {
    await this.#publish(
      message.channel,
      message.event,
      this.#encode(message.data),
    );
  }

  async #publish(
    channel: string,
    event: string,
    payload: Uint8Array,
  ): Promise<void> {
    await this.#send(this.#client, [
      "PUBLISH",
      this.#channel(channel),
      Buffer.concat([Buffer.from(event + "\n"), payload]),
    ]);
  }

  async subscribe(
    channel: string,
    listener: MessageListener,
  ): Promise<() => Promise<void>> {
    if (!this.#subscriber) {
      const subscriber = this.#client.duplicate();
      await this.#connect(subscriber, this.#connectTimeout);
      this.#subscriber = subscriber;
    }
    let listeners = this.#listeners.get(channel);
    if (!listeners) {
      this.#listeners.set(channel, listeners = new Set());
      await this.#subscriber.subscribe(
        this.#channel(channel),
        (message) => this.#deliver(channel, message),
      );
    } else {
      // A message published before this call may still be in flight on the
      // subscriber connection; a round trip on it delivers that message to
      // the listeners already there before this one joins.
      await this.#subscriber.send(["PING"]);
    }
    listeners.add(listener);
    return async () => {
      const current = this.#listeners.get(channel);
      current?.delete(listener);
      if (current?.size === 0) {
        this.#listeners.delete(channel);
        if (this.#subscriber?.isOpen) {
          await this.#subscriber.unsubscribe(this.#channel(channel)).catch(
            () => undefined,
          );
        }
      }
    };
  }

  #deliver(channel: string, message: Buffer): void {
    const newline = message.indexOf(10);
    if (newline < 0) return;
    let event = message.subarray(0, newline).toString();
    let data: unknown;
    try {
      data = this.#codec.decode(message.subarray(newline + 1));
    } catch {
      return; // Published by a process with another serializer.
    }
    // `*event`: one message carrying the data of many events.
    const batch = event.startsWith("*") && Array.isArray(data);
    if (batch) event = event.slice(1);
    const items = batch ? data as unknown[] : [data];
    // `started <start info>`: records as queued, started as it says.
    if (event.startsWith("started ")) {
      const started = startedBy(event.slice("started ".length));
      if (!started) return;
      event = "started";
      for (let i = 0; i < items.length; i++) {
        const item = items[i];
        if (typeof item === "object" && item !== null) {
          items[i] = { ...item, status: TaskStatus.STARTED, ...started };
        }
      }
    }
    for (const item of items) {
      for (const listener of [...this.#listeners.get(channel) ?? []]) {
        try {
          listener({ channel, event, data: item });
        } catch {
          // One listener's error must not stop delivery to the others.
        }
      }
    }
  }

  /** The keys of the workers' beats and statuses (one Cluster slot). */
  #workerKeys(): { beats: string; status: string } {
    return this.#layout.workers;
  }

  async beat(status: WorkerStatus): Promise<BeatReport> {
    // The status is written when it changed, and every 10th beat anyway (a
    // store restarted from an old file gets it back).
    const { time: _time, until: _until, ...rest } = status;
    const key = JSON.stringify(rest);
    const last = this.#beats.get(status.worker);
    const write = !last || last.key !== key || last.count % 10 === 9;
    this.#beats.set(status.worker, {
      key,
      count: write ? 0 : (last?.count ?? 0) + 1,
    });
    const beat = async (write: boolean) => {
      const reply = await this.#run(BEAT, this.#workerKeys(), {
        now: this.#now(),
        worker: status.worker,
        aliveUntil: status.until,
        status: write ? this.#encode(status) : "",
      }) as Reply[];
      const [known, next, ...dead] = reply;
      return {
        dead: dead.flatMap((encoded) => {
          const worker = this.#decodeStatus(encoded);
          return worker ? [worker] : [];
        }),
        known: Number(known) === 1,
        ...(next !== null && String(next) !== "" &&
          { next: Number(String(next)) }),
      };
    };
    const report = await beat(write);
    if (report.known || write) return report;
    // Found dead meanwhile, its status went with its beat: written again.
    const again = await beat(true);
    return { ...again, dead: [...report.dead, ...again.dead], known: false };
  }

  async expireLeases(
    worker: string,
    queues: readonly string[],
  ): Promise<number> {
    const ended = await Promise.all(
      queues.map((queue) =>
        this.#run(EXPIRE_LEASES, this.#keys(queue), {
          worker,
          namespace: this.#cluster ? "" : this.#namespace,
        })
      ),
    );
    return ended.reduce<number>((sum, n) => sum + Number(n), 0);
  }

  async liveWorkers(): Promise<WorkerStatus[]> {
    const { beats, status: statuses } = this.#workerKeys();
    const reply = await this.#send(this.#client, [
      "ZRANGE",
      beats,
      String(this.#now()),
      "+inf",
      "BYSCORE",
      "WITHSCORES",
    ]) as Reply[];
    if (reply.length === 0) return [];
    // RESP3 answers [member, score] pairs, RESP2 a flat list.
    const flat = reply.flat();
    const names = flat.filter((_, i) => i % 2 === 0).map(String);
    const encoded = await this.#send(this.#client, [
      "HMGET",
      statuses,
      ...names,
    ]) as Reply[];
    return names.flatMap((_, i) => {
      const status = this.#decodeStatus(encoded[i]);
      return status
        ? [{ ...status, until: Number(String(flat[2 * i + 1])) }]
        : [];
    }).sort((a, b) => a.worker < b.worker ? -1 : a.worker > b.worker ? 1 : 0);
  }

  async leave(worker: string): Promise<void> {
    const { beats, status: statuses } = this.#workerKeys();
    this.#beats.delete(worker);
    await this.#send(this.#client, ["ZREM", beats, worker]);
    await this.#send(this.#client, ["HDEL", statuses, worker]);
  }

  /** A stored worker status, or undefined when it cannot be read. */
  #decodeStatus(encoded: Reply): WorkerStatus | undefined {
    if (encoded === null || encoded === "" || typeof encoded === "number") {
      return undefined;
    }
    try {
      return parseWorkerStatus(this.#codec.decode(toBytes(encoded as Buffer)));
    } catch {
      return undefined;
    }
  }

  async acquireLock(
    name: string,
    owner: string,
    seconds: number,
  ): Promise<boolean> {
    const now = this.#now();
    // The lock's end is on the store's clock; Redis drops the key a minute
    // after it, so a dead holder leaves nothing behind.
    const reply = await this.#run(
      ACQUIRE_LOCK,
      { lock: this.#layout.lock(name) },
      {
        owner,
        now,
        heldUntil: now + seconds,
        ttl: Math.round(seconds * 1000) + 60_000,
      },
    );
    return Number(reply) === 1;
  }

  /**
   * Stops being handed tasks, and gives back those handed over and not
   * taken (a store that dies instead leaves them to its beats' expiry).
   */
  async #leaveWaiting(): Promise<void> {
    const leases: Lease[] = [];
    // With the server away, closing does not wait for it: what was handed
    // over comes back as a dead worker's would.
    if (!this.#client.isReady) return;
    if (this.#waited && !this.#cluster) {
      this.#waited = false;
      // No hand-over after this; then whatever the pop in flight has not
      // taken is still in the inbox.
      await this.#send(this.#client, [
        "HDEL",
        this.#layout.waiting,
        this.#waiter,
      ]);
      this.#blocker?.destroy();
      const entries = await this.#send(this.#client, [
        "LPOP",
        this.#inboxKey(),
        "1000",
      ]) as Buffer[] | null;
      for (const entry of entries ?? []) {
        const [, id, token] = unframe(entry);
        if (id && token) leases.push({ id: `${id}`, token: `${token}` });
      }
    }
    leases.push(...this.#handed.splice(0));
    if (leases.length > 0) await this.release(leases);
  }

  async releaseLock(name: string, owner: string): Promise<boolean> {
    const reply = await this.#run(
      RELEASE_LOCK,
      { lock: this.#layout.lock(name) },
      { owner },
    );
    return Number(reply) === 1;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    await this.#leaveWaiting().catch(() => undefined);
    this.#closed = true;
    // A blocked BLMPOP would hold a graceful close for its whole timeout.
    this.#blocker?.destroy();
    for (const client of [this.#subscriber, this.#client]) {
      await client?.close();
    }
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/** The connection dropped while a command was on its way. */
/**
 * A stored record with its start info (`[timeStarted, worker, node]` as
 * JSON, from a queue's `started` hash), as `get` reads a running task;
 * unchanged when the info is empty.
 */
function withStart(record: TaskRecord, started: Reply): TaskRecord {
  const text = started === null ? "" : String(started);
  if (text === "") return record;
  const [timeStarted, worker, node] = JSON.parse(text);
  return {
    ...record,
    status: TaskStatus.STARTED,
    timeStarted,
    worker,
    node,
  };
}

/** The connection dropped with a command on its way: its fate is unknown. */
class ConnectionLostError extends StoreConnectionError {}

function isLostInFlight(error: unknown): boolean {
  return error instanceof ConnectionLostError;
}

/** The server answered with an error reply of this code. */
function isReplyError(error: unknown, code: string): error is RedisReplyError {
  return error instanceof RedisReplyError && error.code === code;
}

/**
 * The fields of an inbox entry: netstrings (`<length>:<bytes>`), as
 * `_helpers.lua` frames them.
 */
/**
 * When a claimed task started: the time of the hand-over that gave it (in
 * its rate limit window too), else `now` (a task claimed now, or handed
 * over by an older version, whose entry does not say).
 */
/**
 * A list of encoded records, as the codec encodes a list of them: a JSON
 * array, or a msgpack array (its header, then the records), made from their
 * bytes without decoding them (as `flush` in `_helpers.lua` does).
 */
function encodedList(
  codec: CodecName,
  records: readonly Uint8Array[],
): Uint8Array {
  const n = records.length;
  let head: number[];
  if (codec === "json") head = [0x5b]; // [
  else if (n < 16) head = [0x90 + n];
  else if (n < 65536) head = [0xdc, n >> 8, n & 0xff];
  else head = [0xdd, n >>> 24, (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff];
  const commas = codec === "json" ? n : 0; // n - 1 commas and the ]
  let size = head.length + commas;
  for (const record of records) size += record.length;
  const out = new Uint8Array(size);
  out.set(head, 0);
  let at = head.length;
  records.forEach((record, i) => {
    if (codec === "json" && i > 0) out[at++] = 0x2c; // ,
    out.set(record, at);
    at += record.length;
  });
  if (codec === "json") out[at++] = 0x5d; // ]
  return out;
}

/**
 * The start of tasks announced (`started <JSON [time, worker,
 * node]>`), as record fields; undefined when it cannot be read.
 */
function startedBy(
  info: string,
): { timeStarted: number; worker: string; node: string } | undefined {
  try {
    const [timeStarted, worker, node] = JSON.parse(info);
    if (
      typeof timeStarted === "number" && typeof worker === "string" &&
      typeof node === "string"
    ) return { timeStarted, worker, node };
  } catch {
    // Not ours to read.
  }
  return undefined;
}

function startTime(started: Reply | undefined, now: number): number {
  const at = started === undefined ? NaN : Number(String(started));
  return Number.isFinite(at) && String(started) !== "" ? at : now;
}

function unframe(entry: Buffer): Buffer[] {
  const fields: Buffer[] = [];
  let at = 0;
  while (at < entry.length) {
    const colon = entry.indexOf(58, at); // ':'
    const length = Number(entry.subarray(at, colon).toString());
    fields.push(entry.subarray(colon + 1, colon + 1 + length));
    at = colon + 1 + length;
  }
  return fields;
}

/** A search index entry of a walk: a task's place in search order. */
interface IndexEntry extends SearchPosition {
  /** The walk (the queue) it was read from. */
  readonly walk: IndexWalk;
}

/**
 * Where a search is in one queue's search index: the entries read and not
 * yet looked at, and where the next read starts.
 */
interface IndexWalk {
  readonly keys: QueueKeys;
  /** Entries read, not yet taken, newest first. */
  buffer: IndexEntry[];
  /** The top of the next read: a time (inclusive), `(until` or `+inf`. */
  max: string;
  /** `max` as a number when it is an inclusive time. */
  maxScore?: number;
  /** The bottom of the range: `since`, or `-inf`. */
  readonly min: string;
  /** The entries at time `max` the next read skips (read already). */
  offset: number;
  /** How many entries the next read asks for. */
  count: number;
  /** Nothing more in range. */
  done: boolean;
}

/**
 * What a running task's `started` entry says (JSON [time started, worker,
 * node]), as record fields; undefined when it cannot be read.
 */
function startedInfo(
  started: Buffer,
):
  | Pick<TaskRecord, "status" | "timeStarted" | "worker" | "node">
  | undefined {
  try {
    const [timeStarted, worker, node] = JSON.parse(String(started));
    return { status: TaskStatus.STARTED, timeStarted, worker, node };
  } catch {
    return undefined;
  }
}

/** The `{tag}` of a key, which decides its Cluster slot. */
function hashTag(key: string): string {
  return key.match(/\{[^}]+\}/)?.[0] ?? key;
}

/** A lease token is `<queue>\n<uuid>:<n>`: it names its queue. */
function queueOfToken(token: string): string {
  return token.slice(0, token.lastIndexOf("\n"));
}

function toBytes(value: Buffer | string): Uint8Array {
  return typeof value === "string" ? new TextEncoder().encode(value) : value;
}

/** The fields of `finish` for an outcome without a retry: all ''. */
const NO_RETRY = {
  id: "",
  due: "",
  queued: "",
  record: "",
  limit: "",
  name: "",
} as const;

/** A retry's fields as `finish` names them: `id` → `retryId`, and so on. */
function retryFields(
  fields: Record<keyof typeof NO_RETRY, ScriptValue>,
): Record<string, ScriptValue> {
  return {
    retryId: fields.id,
    retryDue: fields.due,
    retryQueued: fields.queued,
    retryRecord: fields.record,
    retryLimit: fields.limit,
    retryName: fields.name,
  };
}
