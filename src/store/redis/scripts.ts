/**
 * The scripts of the Redis store as calls: one typed method per Lua file
 * (`script_files.ts`), whose arguments are the names of its header and
 * whose reply is decoded into named fields. The store runs scripts only
 * through these.
 *
 * Invariants:
 * - A call names its keys and arguments as the script's header does; they
 *   are ordered from it (`scriptCall`), and a name missing or unknown is a
 *   `TypeError` before anything is sent.
 * - A reply is checked as it is read (`replies.ts`): one of another shape
 *   is a `MalformedReplyError` naming the script and the field, never a
 *   value read at the wrong place. An error reply is decided by its code
 *   (`PQDUPLICATE` of `enqueue.lua` is answered as `duplicate`).
 * - A script is sent through the topology (`topology.ts`), which knows the
 *   server and the scripts it has loaded.
 * @module
 */
import type { Buffer } from "node:buffer";
import type { RevokeOutcome } from "../store.ts";
import { RedisReplyError } from "./connection.ts";
import type { QueueKeys } from "./keys.ts";
import {
  type LuaScript,
  scriptCall,
  type ScriptKeys,
  type ScriptNamed,
} from "./lua/script.ts";
import {
  bulkStrings,
  bytes,
  flag,
  lengthOf,
  list,
  malformed,
  number,
  oneOf,
  text,
} from "./replies.ts";
import type { RedisReply } from "./resp.ts";
import {
  ACQUIRE_LOCK,
  BEAT,
  CLAIM,
  CLAIMED_BY,
  DELETE_TASKS,
  ENQUEUE,
  ENQUEUE_UNIQUE,
  EXPIRE_LEASES,
  EXPIRED,
  FINISH,
  FLUSH,
  FORGET_QUEUE,
  JOB_STATS,
  JOIN_GROUP,
  PAUSE,
  PROGRESS,
  RELEASE,
  RELEASE_LOCK,
  RENEW,
  RESUME,
  REVOKE,
  SETTLE,
} from "./script_files.ts";
import type {
  ClaimedTask,
  ExpiredLease,
  LeaseArg,
  LeaseState,
  QueuedTask,
  QueueJobStats,
} from "./script_types.ts";
import type { Topology } from "./topology.ts";

const LEASE_STATES: readonly LeaseState[] = ["lost", "renewed", "revoked"];

/**
 * The scripts that do not wait for a replica with `durability=replicated`:
 * a claim, a lease renewed or expired, progress, a beat or a queue
 * forgotten that a failover loses makes a task run again (at least once),
 * never lose it; and a claim that waited would strand its tasks under a
 * lease when no replica acknowledged it. Queueing, outcomes, revokes,
 * pauses, workflow steps and locks wait.
 */
const UNREPLICATED: ReadonlySet<LuaScript> = new Set([
  CLAIM,
  CLAIMED_BY,
  RENEW,
  EXPIRED,
  EXPIRE_LEASES,
  PROGRESS,
  BEAT,
  FORGET_QUEUE,
  JOB_STATS,
]);

/**
 * The scripts of the store, one method per file, each sent through the
 * topology and its reply decoded.
 */
export class Scripts {
  readonly #topology: Topology;

  /** The scripts, run on `topology`. */
  constructor(topology: Topology) {
    this.#topology = topology;
  }

  /**
   * `enqueue.lua`: queues tasks in one queue, all or none. `duplicate`: the
   * server's words when a task of one of their ids is stored already (then
   * none was queued).
   */
  async enqueue(keys: QueueKeys, args: {
    now: number;
    channel: string;
    queue: string;
    namespace: string;
    tasks: readonly QueuedTask[];
  }): Promise<{ queued: number; duplicate?: string }> {
    try {
      const reply = await this.#run(ENQUEUE, keys, args);
      return { queued: number(reply, ENQUEUE.file) };
    } catch (error) {
      if (!(error instanceof RedisReplyError && error.code === "PQDUPLICATE")) {
        throw error;
      }
      return {
        queued: 0,
        duplicate: error.message.slice(error.code.length + 1),
      };
    }
  }

  /**
   * `enqueue_unique.lua`: queues one task unless its id is stored or its
   * dedupe key held; then answers the task that is there, with its start
   * info ('' unless it runs).
   */
  async enqueueUnique(
    keys: QueueKeys,
    args: QueuedTask & {
      now: number;
      channel: string;
      queue: string;
      namespace: string;
      dedupeKey: string;
      dedupeTtl: number | "";
    },
  ): Promise<
    | { outcome: "queued" }
    | { outcome: "id" | "dedupe"; record: Buffer; started: string }
  > {
    const what = ENQUEUE_UNIQUE.file;
    const reply = list(await this.#run(ENQUEUE_UNIQUE, keys, args), what);
    const outcome = oneOf(reply[0], ["queued", "id", "dedupe"], what, 0);
    if (outcome === "queued") return { outcome };
    return {
      outcome,
      record: bytes(reply[1], what, 1),
      started: text(reply[2], what, 2),
    };
  }

  /**
   * `claim.lua`: claims ready tasks of the queues, in order, under new
   * leases (on a single server, with those handed over earlier); says when
   * each queue's next delayed task is due (Infinity: none).
   */
  async claim(
    first: QueueKeys,
    more: readonly QueueKeys[],
    args: {
      now: number;
      max: number;
      leaseEnd: number;
      prefix: string;
      startInfo: string;
      scanExtra: number;
      namespace: string;
      waiter: string;
      inbox: "1" | "0";
      waitUntil: number;
      waiterInfo: string;
      queues: readonly { name: string }[];
    },
  ): Promise<{ nextDue: number[]; tasks: ClaimedTask[] }> {
    const what = CLAIM.file;
    const reply = list(await this.#run(CLAIM, { ...first, more }, args), what);
    const queues = args.queues;
    const nextDue: number[] = [];
    for (let q = 0; q < queues.length; q++) {
      const due = text(reply[q], what, q);
      nextDue.push(due === "" ? Infinity : number(due, what, q));
    }
    // Then 6 fields a task: queue number (from 1), id, token,
    // redeliveries, record, and when it was handed over ('' if it was not).
    if ((reply.length - queues.length) % 6 !== 0) {
      malformed(what, "the reply", "has a task of other than 6 fields");
    }
    const tasks: ClaimedTask[] = [];
    for (let i = queues.length; i < reply.length; i += 6) {
      const queue = queues[number(reply[i], what, i) - 1];
      if (!queue) malformed(what, i, `names no queue of the ${queues.length}`);
      const handedAt = text(reply[i + 5], what, i + 5);
      tasks.push({
        queue: queue.name,
        id: text(reply[i + 1], what, i + 1),
        token: text(reply[i + 2], what, i + 2),
        redeliveries: number(reply[i + 3], what, i + 3),
        record: bytes(reply[i + 4], what, i + 4),
        ...handedAt !== "" && { handedAt: Number(handedAt) },
      });
    }
    return { nextDue, tasks };
  }

  /**
   * `claimed_by.lua`: the leases still held in a queue by the claim whose
   * tokens start with `tokenPrefix` (a claim whose reply was lost).
   */
  async claimedBy(keys: QueueKeys, tokenPrefix: string): Promise<LeaseArg[]> {
    const what = CLAIMED_BY.file;
    const reply = list(
      await this.#run(CLAIMED_BY, keys, { tokenPrefix }),
      what,
    );
    const leases: LeaseArg[] = [];
    for (let at = 0; at + 1 < reply.length; at += 2) {
      leases.push({
        id: text(reply[at], what, at),
        token: text(reply[at + 1], what, at + 1),
      });
    }
    return leases;
  }

  /** `renew.lua`: renews leases; says, per lease in order, how it went. */
  async renew(keys: QueueKeys, args: {
    leaseEnd: number;
    leases: readonly LeaseArg[];
  }): Promise<LeaseState[]> {
    const what = RENEW.file;
    const reply = list(await this.#run(RENEW, keys, args), what);
    lengthOf(reply, args.leases.length, what);
    // 0: lost, 1: renewed, 2: renewed and asked to stop.
    return reply.map((state, i) => {
      const name = LEASE_STATES[number(state, what, i)];
      return name ?? malformed(what, i, `is '${state}', not 0, 1 or 2`);
    });
  }

  /**
   * `finish.lua`: writes how running tasks ended, and their retries; says,
   * per outcome in order, whether it was written (its lease held).
   */
  async finish(keys: QueueKeys, args: {
    now: number;
    channel: string;
    expires: number;
    onlyExpired: "1" | "0";
    outcomes: readonly {
      id: string;
      token: string;
      record: Uint8Array;
      /** The final status's name, counted in the status history. */
      status: string;
      retry?: QueuedTask;
    }[];
  }): Promise<boolean[]> {
    const what = FINISH.file;
    const outcomes = args.outcomes.map((
      { id, token, record, status, retry },
    ) => ({
      id,
      token,
      record,
      status,
      // The retry's fields, prefixed: all '' for none.
      retryId: retry?.id ?? "",
      retryDue: retry?.due ?? "",
      retryQueued: retry?.queued ?? "",
      retryRecord: retry?.record ?? "",
      retryLimit: retry?.limit ?? "",
      retryName: retry?.name ?? "",
    }));
    const reply = list(
      await this.#run(FINISH, keys, { ...args, outcomes }),
      what,
    );
    lengthOf(reply, outcomes.length, what);
    return reply.map((written, i) => flag(written, what, i));
  }

  /**
   * `release.lua`: puts leased tasks back in their queue; those whose revoke
   * was asked for stay under their lease, answered with their records.
   */
  async release(keys: QueueKeys, args: {
    now: number;
    channel: string;
    count: "1" | "0";
    onlyExpired: "1" | "0";
    leases: readonly LeaseArg[];
  }): Promise<{
    released: string[];
    revoked: { id: string; token: string; record: Buffer }[];
  }> {
    const what = RELEASE.file;
    const reply = list(await this.#run(RELEASE, keys, args), what);
    lengthOf(reply, 2, what);
    const released = list(reply[0], what, "released");
    const entries = list(reply[1], what, "revoked");
    if (entries.length % 3 !== 0) {
      malformed(what, "revoked", "has a task of other than 3 fields");
    }
    const revoked = [];
    for (let i = 0; i < entries.length; i += 3) {
      revoked.push({
        id: text(entries[i], what, `revoked[${i}]`),
        token: text(entries[i + 1], what, `revoked[${i + 1}]`),
        record: bytes(entries[i + 2], what, `revoked[${i + 2}]`),
      });
    }
    return {
      released: released.map((id, i) => text(id, what, `released[${i}]`)),
      revoked,
    };
  }

  /**
   * `expired.lua`: the leases that expired (and drops the finished records
   * past their retention).
   */
  async expired(keys: QueueKeys, args: {
    now: number;
    limit: number;
  }): Promise<ExpiredLease[]> {
    const what = EXPIRED.file;
    const reply = list(await this.#run(EXPIRED, keys, args), what);
    if (reply.length % 5 !== 0) {
      malformed(what, "the reply", "has a lease of other than 5 fields");
    }
    const leases: ExpiredLease[] = [];
    for (let i = 0; i < reply.length; i += 5) {
      leases.push({
        id: text(reply[i], what, i),
        token: text(reply[i + 1], what, i + 1),
        redeliveries: number(reply[i + 2], what, i + 2),
        record: bytes(reply[i + 3], what, i + 3),
        revokeAsked: flag(reply[i + 4], what, i + 4),
      });
    }
    return leases;
  }

  /** `revoke.lua`: revokes a queued task, or asks a running one to stop. */
  async revoke(keys: QueueKeys, args: {
    now: number;
    channel: string;
    expires: number;
    id: string;
    seen: Uint8Array | "";
    revoked: Uint8Array;
  }): Promise<RevokeOutcome | "changed"> {
    const reply = await this.#run(REVOKE, keys, args);
    return oneOf<RevokeOutcome | "changed">(
      reply,
      ["revoked", "requested", "finished", "changed", "unknown"],
      REVOKE.file,
    );
  }

  /** `flush.lua`: drops every queued task of a queue; answers their ids. */
  async flush(keys: QueueKeys): Promise<string[]> {
    const what = FLUSH.file;
    const reply = list(await this.#run(FLUSH, keys, {}), what);
    return reply.map((id, i) => text(id, what, i));
  }

  /** `progress.lua`: stores a running task's progress, by its lease holder. */
  async progress(keys: QueueKeys, args: {
    channel: string;
    id: string;
    token: string;
    record: Uint8Array;
    event: Uint8Array;
  }): Promise<boolean> {
    return flag(await this.#run(PROGRESS, keys, args), PROGRESS.file);
  }

  /** `acquire_lock.lua`: takes or renews a named lock; true when held. */
  async acquireLock(lock: string, args: {
    owner: string;
    now: number;
    heldUntil: number;
    ttl: number;
  }): Promise<boolean> {
    const reply = await this.#run(ACQUIRE_LOCK, { lock }, args);
    return flag(reply, ACQUIRE_LOCK.file);
  }

  /** `release_lock.lua`: frees a named lock; true when this owner held it. */
  async releaseLock(lock: string, args: { owner: string }): Promise<boolean> {
    const reply = await this.#run(RELEASE_LOCK, { lock }, args);
    return flag(reply, RELEASE_LOCK.file);
  }

  /**
   * `beat.lua`: a worker's beat. `known`: it had a beat here before; `next`:
   * the earliest end of another worker's beat, if any; `dead`: the stored
   * statuses ('' when none) of the workers whose beat expired (before
   * `cutOffSince` when it is given, not '').
   */
  async beat(keys: { beats: string; status: string }, args: {
    now: number;
    worker: string;
    aliveUntil: number;
    status: Uint8Array | "";
    cutOffSince: number | "";
  }): Promise<{ known: boolean; next?: number; dead: Buffer[] }> {
    const what = BEAT.file;
    const reply = list(await this.#run(BEAT, keys, args), what);
    if (reply.length < 2) malformed(what, "the reply", "lacks known and next");
    const next = text(reply[1], what, "next");
    return {
      known: flag(reply[0], what, "known"),
      ...next !== "" && { next: number(next, what, "next") },
      dead: bulkStrings(reply.slice(2), what, "dead"),
    };
  }

  /** `expire_leases.lua`: ends a dead worker's leases; answers how many. */
  async expireLeases(keys: QueueKeys, args: {
    worker: string;
    namespace: string;
  }): Promise<number> {
    const reply = await this.#run(EXPIRE_LEASES, keys, args);
    return number(reply, EXPIRE_LEASES.file);
  }

  /**
   * `forget_queue.lua`: drops a queue from the registry unless it was
   * registered again since `registered`; true when dropped.
   */
  async forgetQueue(registry: string, args: {
    queue: string;
    registered: string;
  }): Promise<boolean> {
    const reply = await this.#run(FORGET_QUEUE, { registry }, args);
    return flag(reply, FORGET_QUEUE.file);
  }

  /** `pause.lua`: pauses a queue; false when it was paused already. */
  async pause(keys: QueueKeys, args: {
    now: number;
    channel: string;
    name: Uint8Array;
  }): Promise<boolean> {
    return flag(await this.#run(PAUSE, keys, args), PAUSE.file);
  }

  /** `resume.lua`: resumes a queue; false when it was not paused. */
  async resume(keys: QueueKeys, args: {
    channel: string;
    name: Uint8Array;
  }): Promise<boolean> {
    return flag(await this.#run(RESUME, keys, args), RESUME.file);
  }

  /**
   * `settle.lua`: stores the final record of a task that never ran, unless
   * its id is stored: then answers the record that is there.
   */
  async settle(keys: QueueKeys, args: {
    now: number;
    channel: string;
    queue: string;
    namespace: string;
    id: string;
    queued: number;
    record: Uint8Array;
    status: string;
    expires: number;
  }): Promise<{ written: true } | { written: false; there: Buffer }> {
    const reply = await this.#run(SETTLE, keys, args);
    if (reply === 1) return { written: true };
    return { written: false, there: bytes(reply, SETTLE.file) };
  }

  /**
   * `join_group.lua`: records a member of a group; answers the members'
   * values in order once all are there, else undefined.
   */
  async joinGroup(group: string, args: {
    index: number;
    total: number;
    value: Uint8Array;
    ttl: number;
  }): Promise<Buffer[] | undefined> {
    const what = JOIN_GROUP.file;
    const reply = await this.#run(JOIN_GROUP, { group }, args);
    return reply === null ? undefined : bulkStrings(reply, what);
  }

  /**
   * `delete_tasks.lua`: deletes finished tasks of a queue by id (those
   * kept, neither queued nor running); answers the ids it deleted.
   */
  async deleteTasks(keys: QueueKeys, args: {
    now: number;
    ids: readonly string[];
  }): Promise<string[]> {
    const what = DELETE_TASKS.file;
    const reply = list(await this.#run(DELETE_TASKS, keys, args), what);
    return reply.map((id, i) => text(id, what, i));
  }

  /**
   * `job_stats.lua`: the newest `scan` tasks of a queue counted by job and
   * status, with the run times of each job's newest `runs` ended tasks;
   * `entries`: how many tasks the queue's index holds.
   */
  async jobStats(keys: QueueKeys, args: {
    codec: string;
    scan: number;
    runs: number;
  }): Promise<{ entries: number; jobs: QueueJobStats[] }> {
    const what = JOB_STATS.file;
    const reply = list(await this.#run(JOB_STATS, keys, args), what);
    if (reply.length % 3 !== 1) {
      malformed(what, "the reply", "is not a count then name, counts, runs");
    }
    // Pairs of numbers; run times come as text (a number reply is cut).
    const pairs = (at: number): Array<[number, number]> => {
      const values = list(reply[at], what, at).map((v) => number(v, what, at));
      if (values.length % 2 !== 0) malformed(what, at, "is not pairs");
      return values.flatMap((v, k) => k % 2 ? [] : [[v, values[k + 1]]]);
    };
    const jobs: QueueJobStats[] = [];
    for (let at = 1; at < reply.length; at += 3) {
      jobs.push({
        name: text(reply[at], what, at),
        counts: pairs(at + 1),
        runs: pairs(at + 2),
      });
    }
    return { entries: number(reply[0], what, 0), jobs };
  }

  /**
   * Runs a script with its keys and arguments by name (ordered from its
   * header, which they must match: else a `TypeError`, nothing sent).
   */
  #run(
    script: LuaScript,
    keys: ScriptKeys,
    args: ScriptNamed,
  ): Promise<RedisReply> {
    const call = scriptCall(script, keys, args);
    const argv = call.argv.map((arg) =>
      typeof arg === "number" ? String(arg) : arg
    );
    return this.#topology.runScript(
      script,
      call.keys,
      argv,
      !UNREPLICATED.has(script),
    );
  }
}
