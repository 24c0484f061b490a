/**
 * Tasks under lease on Redis: claimed in batches (`claim.lua`, with those
 * handed over first), renewed, finished, released, and their progress. A
 * lease is a token in the queue's `leases` hash and an end in its `running`
 * ZSET; every call that changes a task checks that its token is still the
 * one stored, so a holder whose lease was lost changes nothing.
 *
 * Invariants:
 * - A lease token is `<queue>\n<uuid>:<n>` (`claim.lua` makes it): it names
 *   its queue, so a call on leases sends one script per queue they are in.
 * - A task whose revoke was asked for is never put back by a release: it
 *   ends REVOKED (`endRevoked`), as the store ends it itself.
 * - How a task ends when its worker did not end it is decided in
 *   `_reasons.ts`, as in the SQLite store.
 * @module
 */
import { COUNTED_STATUSES } from "../status_history.ts";
import { StoreConnectionError } from "../../model/errors.ts";
import { standInRecord, type TaskRecord } from "../../model/task.ts";
import {
  encodeOutcome,
  endedRecord,
  revokedRunning,
  type StoreEnding,
} from "../_reasons.ts";
import type { Claim, ClaimRequest, Finish, Lease } from "../store.ts";
import type { RedisContext } from "./context.ts";
import type { HandOver } from "./hand_over.ts";
import type { PubSub, StartedTask } from "./pub_sub.ts";
import {
  claimOf,
  decodeRecord,
  queuedFields,
  startTime,
  withStart,
} from "./records.ts";
import { bytesOrNil } from "./replies.ts";
import { ConnectionLostError } from "./topology.ts";

/** Tasks a claim looks at past those held back by a concurrency limit. */
const CLAIM_SCAN_EXTRA = 100;

/** The leases of the store's workers. */
export class Leases {
  readonly #ctx: RedisContext;
  readonly #handOver: HandOver;
  readonly #pubSub: PubSub;
  readonly #nextDue: Map<string, number>;

  /**
   * Claims whose reply was lost with their connection: the prefix of their
   * lease tokens, their queues, when their leases end, and when to look
   * for what they took next.
   */
  readonly #lost: Array<
    { prefix: string; queues: string[]; until: number; next: number }
  > = [];

  /**
   * The leases of the store of `ctx`; its claims tell `nextDue` when each
   * queue's next delayed task is due.
   */
  constructor(
    ctx: RedisContext,
    handOver: HandOver,
    pubSub: PubSub,
    nextDue: Map<string, number>,
  ) {
    this.#ctx = ctx;
    this.#handOver = handOver;
    this.#pubSub = pubSub;
    this.#nextDue = nextDue;
  }

  /** Claims ready tasks under new leases (see `Store.claim`). */
  async claim(request: ClaimRequest): Promise<Claim[]> {
    // Tasks handed over to a wait that had ended go back to their queue
    // first: this claim takes them again in their queue's order, after a
    // task of a higher priority queued since. Run at once, they would jump
    // it.
    const late = this.#handOver.takeLate();
    if (late.length > 0) await this.release(late);
    if (this.#lost.length > 0) await this.#giveBackLost();
    const { keys, scripts, topology } = this.#ctx;
    const claims: Claim[] = [];
    // The tasks to announce started, at their start time: now, or when
    // they were handed over (those read from the inbox were not announced:
    // the wait they were handed to had ended).
    const started: StartedTask[] = [];
    let fromInbox = 0;
    const now = this.#ctx.now();
    // A claim that finds nothing registers this store as a waiter, for
    // tasks queued while it waits to be handed over (single server).
    const waiter = this.#handOver.claimArgs(request);
    const args = {
      now,
      leaseEnd: now + request.leaseSeconds,
      prefix: crypto.randomUUID(),
      startInfo: JSON.stringify([now, request.worker, request.node]),
      scanExtra: CLAIM_SCAN_EXTRA,
      ...waiter,
      waitUntil: now + (request.waitSeconds ?? 0),
      waiterInfo: JSON.stringify([
        request.max,
        request.leaseSeconds,
        request.worker,
        request.node,
      ]),
    };
    // On a Cluster, the queues of a node that is down (a failover under
    // way) are passed over while another node can give tasks, and a node
    // lost during the claim ends it with what the others gave: the queues
    // of healthy nodes go on.
    const groups = topology.claimGroups(
      request.queues,
      (queue) => keys.queue(queue).ready,
    );
    const reachable = groups.filter((queues) =>
      topology.reachable(keys.queue(queues[0]).ready)
    );
    for (const queues of reachable.length > 0 ? reachable : groups) {
      const max = request.max - claims.length;
      if (max <= 0) break;
      const [first, ...more] = queues.map((queue) => keys.queue(queue));
      let reply;
      try {
        reply = await scripts.claim(first, more, {
          ...args,
          max,
          queues: queues.map((name) => ({ name })),
        });
      } catch (error) {
        if (error instanceof ConnectionLostError) {
          // The server may have run it: what it took is given back later.
          this.#lost.push({
            prefix: args.prefix,
            queues,
            until: args.leaseEnd,
            next: 0,
          });
        }
        if (claims.length === 0 || !(error instanceof StoreConnectionError)) {
          throw error;
        }
        break;
      }
      queues.forEach((queue, q) => this.#nextDue.set(queue, reply.nextDue[q]));
      for (const task of reply.tasks) {
        const time = startTime(task.handedAt, now);
        const claim = claimOf(this.#ctx.codec, request, time, task);
        claims.push(claim);
        if (task.handedAt !== undefined) fromInbox++;
        if (claim.task) {
          started.push({ time, queue: task.queue, record: task.record });
        }
      }
    }
    this.#handOver.claimed(waiter, request, claims.length, fromInbox);
    this.#pubSub.announceStarted(started, request);
    return claims;
  }

  /**
   * Gives back what the claims whose reply was lost took (the server may
   * have run one, or may run it later: a hung server runs what it read
   * when it wakes), looked for at most once a second each, until their
   * leases would end (then a reclaim gives them back anyway).
   */
  async #giveBackLost(): Promise<void> {
    const now = this.#ctx.now();
    for (const lost of [...this.#lost]) {
      if (now >= lost.until) {
        this.#lost.splice(this.#lost.indexOf(lost), 1);
        continue;
      }
      if (now < lost.next) continue;
      lost.next = now + 1;
      try {
        for (const queue of lost.queues) {
          const leases = await this.#ctx.scripts.claimedBy(
            this.#ctx.keys.queue(queue),
            `${queue}\n${lost.prefix}:`,
          );
          if (leases.length > 0) await this.release(leases);
        }
      } catch {
        // Still away: looked for again at a later claim.
      }
    }
  }

  /** Renews leases; says which were lost and which asked to stop. */
  async renew(
    leases: readonly Lease[],
    leaseSeconds: number,
  ): Promise<{ lost: string[]; revoked: string[] }> {
    const states = new Map<Lease, string>();
    const until = this.#ctx.now() + leaseSeconds;
    await Promise.all([...byQueue(leases)].map(async ([queue, list]) => {
      const reply = await this.#ctx.scripts.renew(this.#ctx.keys.queue(queue), {
        leaseEnd: until,
        leases: list.map(({ id, token }) => ({ id, token })),
      });
      list.forEach((lease, i) => states.set(lease, reply[i]));
    }));
    // In the given order.
    return {
      lost: leases.filter((lease) => (states.get(lease) ?? "lost") === "lost")
        .map((lease) => lease.id),
      revoked: leases.filter((lease) => states.get(lease) === "revoked")
        .map((lease) => lease.id),
    };
  }

  /** Writes how running tasks ended; says, per outcome, if it was written. */
  async finish(
    outcomes: readonly Finish[],
    onlyExpired = false,
  ): Promise<boolean[]> {
    const { codec, keys, scripts } = this.#ctx;
    const now = this.#ctx.now();
    const written = new Map<Finish, boolean>();
    await Promise.all([...byQueue(outcomes)].map(async ([queue, list]) => {
      const reply = await scripts.finish(keys.queue(queue), {
        now,
        channel: keys.channel("task"),
        expires: now + this.#ctx.resultTtl,
        onlyExpired: onlyExpired ? "1" : "0",
        outcomes: list.map((outcome) => {
          const { task, payload } = encodeOutcome(codec, outcome);
          return {
            id: outcome.id,
            token: outcome.token,
            record: payload,
            status: COUNTED_STATUSES.get(task.status) ?? "",
            ...outcome.retry && {
              retry: queuedFields(outcome.retry, codec.encode(outcome.retry)),
            },
          };
        }),
      });
      list.forEach((outcome, i) => written.set(outcome, reply[i]));
    }));
    return outcomes.map((outcome) => written.get(outcome) ?? false);
  }

  /** Puts leased tasks back in their queue (a revoked one ends REVOKED). */
  async release(leases: readonly Lease[]): Promise<void> {
    await Promise.all([...byQueue(leases)].map(async ([queue, list]) => {
      const now = this.#ctx.now();
      const { revoked } = await this.#ctx.scripts.release(
        this.#ctx.keys.queue(queue),
        {
          now,
          channel: this.#ctx.keys.channel("task"),
          count: "0",
          onlyExpired: "0",
          leases: list.map(({ id, token }) => ({ id, token })),
        },
      );
      await this.endRevoked(queue, revoked, now, false);
    }));
  }

  /**
   * Ends REVOKED the tasks that `release.lua` kept under their lease
   * because their revoke was asked for; resolves with the ids it ended.
   */
  async endRevoked(
    queue: string,
    tasks: readonly { id: string; token: string; record: Uint8Array }[],
    now: number,
    onlyExpired: boolean,
  ): Promise<string[]> {
    const outcomes: Finish[] = tasks.map(({ id, token, record }) => ({
      id,
      token,
      task: this.endedRecord(queue, id, record, now, revokedRunning(id)),
    }));
    if (outcomes.length === 0) return [];
    const written = await this.finish(outcomes, onlyExpired);
    return outcomes.filter((_, i) => written[i]).map((outcome) => outcome.id);
  }

  /**
   * The final record of a running task that the store ends itself, its
   * worker having not: the stored record, or a stand-in for a malformed one.
   */
  endedRecord(
    queue: string,
    id: string,
    payload: Uint8Array,
    now: number,
    ending: StoreEnding,
  ): TaskRecord {
    const decoded = decodeRecord(this.#ctx.codec, payload);
    const base = decoded.ok
      ? decoded.record
      : standInRecord({ id, queue }, now);
    return endedRecord(base, ending, now);
  }

  /**
   * Reads the running task's record, rewrites it with `change` (its
   * progress, a finished step), and writes it back in one script that
   * checks the lease and publishes `progress` (with the task as `get` reads
   * it: STARTED, by its worker); false when the lease is lost or the record
   * unreadable. Only the lease holder writes a running task's record, and
   * its worker writes one at a time (see `run_task.ts`), so the read and
   * the write cannot interleave with another write of it.
   */
  async rewriteRecord(
    lease: Lease,
    change: (record: TaskRecord) => TaskRecord,
  ): Promise<boolean> {
    const { codec, keys: layout, topology } = this.#ctx;
    const keys = layout.queue(queueOfToken(lease.token));
    const what = "HGET of a running task";
    const [stored, started] = await Promise.all([
      topology.send(["HGET", keys.tasks, lease.id]),
      topology.send(["HGET", keys.started, lease.id]),
    ]);
    const record = bytesOrNil(stored, what, "tasks");
    const start = bytesOrNil(started, what, "started");
    if (!record || !start) return false; // Not running here (any more).
    const decoded = decodeRecord(codec, record);
    // A record that cannot be read was never handed to a job to run.
    if (!decoded.ok) return false;
    const updated = change(decoded.record);
    return await this.#ctx.scripts.progress(keys, {
      channel: layout.channel("task"),
      id: lease.id,
      token: lease.token,
      record: codec.encode(updated),
      event: codec.encode(withStart(updated, start)),
    });
  }
}

/** Groups leases by their queue, which their token names. */
function byQueue<T extends Lease>(leases: readonly T[]): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const lease of leases) {
    const queue = queueOfToken(lease.token);
    const list = groups.get(queue) ?? [];
    list.push(lease);
    groups.set(queue, list);
  }
  return groups;
}

/** A lease token is `<queue>\n<uuid>:<n>`: it names its queue. */
function queueOfToken(token: string): string {
  return token.slice(0, token.lastIndexOf("\n"));
}
