/**
 * Waiting for tasks, and the hand-over of tasks to waiting workers. An idle
 * worker blocks on the server (a BLMPOP on its queues' markers); on a
 * single server a claim that finds nothing also registers its store as a
 * waiter (`<ns>:waiting`), and a task queued meanwhile is claimed for it
 * inside the enqueue script and pushed to its inbox (`<ns>:inbox:<id>`),
 * which the same pop wakes on: the task and its wake-up in one step.
 *
 * Invariants:
 * - A task handed over is under a lease in the waiter's name before it
 *   leaves the enqueue script, so it is the waiter's to run (a wait or its
 *   next claim returns it), to give back (`leave`, on close), or, if the
 *   waiter dies, to come back with its other tasks when its beat ends.
 * - One pop at a time on each blocking connection (one a lane: see
 *   `Topology.blockingGroups`; on a Cluster, one a hash tag, so a worker
 *   wakes for a task of any of its queues, wherever it lives): a wait that
 *   ends (a pop of another lane woke, its signal aborted) leaves the
 *   others running, and the next wait waits on the same ones, so a
 *   connection is never torn down and never has two commands queued; what
 *   a pop pops is kept until a wait or a claim takes it.
 * - A registration and the inbox may hold entries until a claim that takes
 *   tasks (fewer than it asked for from the inbox) has ended them.
 * @module
 */
import type { Buffer } from "node:buffer";
import { delay } from "../../model/_abort.ts";
import type { Claim, ClaimRequest, Lease } from "../store.ts";
import type { RedisContext } from "./context.ts";
import { groupKeys } from "./groups.ts";
import type { PubSub, StartedTask } from "./pub_sub.ts";
import { claimOf, startTime } from "./records.ts";
import { bulkStrings, list, number, scored, text } from "./replies.ts";
import type { ClaimedTask } from "./script_types.ts";

/** What a blocking pop woke on, or false when it timed out. */
type Popped = "ready" | "delayed" | "handed" | false;

/** Seconds a blocking pop waits at least. */
const POP_SECONDS = 60;

/** Milliseconds a pop that failed (its node down) waits before it says so. */
const POP_RETRY_MS = 250;

/** What a wait says when pops of several lanes woke, first first. */
const ORDER: readonly Popped[] = ["handed", "ready", "delayed"];

/** This store as a worker waiting for tasks. */
export class HandOver {
  readonly #ctx: RedisContext;
  readonly #pubSub: PubSub;
  /** When the next delayed task of each queue claimed from is due. */
  readonly #nextDue: Map<string, number>;
  /**
   * This store's id as a waiter that tasks are handed to (single server):
   * its inbox is `<namespace>:inbox:<id>`.
   */
  readonly #waiter = crypto.randomUUID();
  /**
   * A claim registered this store as a waiter: its registration and its
   * inbox may hold entries.
   */
  #waited = false;
  /** Tasks handed over, not yet taken by a wait or a claim. */
  readonly #handed: Claim[] = [];
  /** The worker of the last registration: the tasks handed over are its. */
  #waitingAs = { worker: "", node: "" };
  /**
   * The blocking pops, by lane (the keys one pop waits on): the pop in
   * flight, and what one popped while no wait was there to hear it (the
   * next wait takes it at once).
   */
  readonly #lanes = new Map<
    string,
    { pop?: Promise<Popped>; popped: Popped }
  >();

  /**
   * The waiter of the store of `ctx`; `nextDue` is shared with its claims,
   * which learn when each queue's next delayed task is due.
   */
  constructor(ctx: RedisContext, pubSub: PubSub, nextDue: Map<string, number>) {
    this.#ctx = ctx;
    this.#pubSub = pubSub;
    this.#nextDue = nextDue;
  }

  /**
   * What a claim tells `claim.lua` of this waiter. On a single server a
   * claim that may wait registers it (`waiter`), and reads its inbox first
   * when a registration may have left entries there (`inbox`).
   */
  claimArgs(
    request: ClaimRequest,
  ): { namespace: string; waiter: string; inbox: "1" | "0" } {
    const register = this.#ctx.topology.singleServer &&
      (request.waitSeconds ?? 0) > 0;
    return {
      namespace: register ? this.#ctx.namespace : "",
      waiter: register ? this.#waiter : "",
      inbox: register && this.#waited ? "1" : "0",
    };
  }

  /**
   * After a claim made with `args`: one that took nothing is registered
   * now; one that took fewer tasks from the inbox than it asked for ended
   * the registration and read the inbox to its end.
   */
  claimed(
    args: { waiter: string; inbox: "1" | "0" },
    request: ClaimRequest,
    claimed: number,
    fromInbox: number,
  ): void {
    if (args.waiter !== "" && claimed === 0) {
      this.#waited = true;
      this.#waitingAs = { worker: request.worker, node: request.node };
    } else if (args.inbox === "1" && fromInbox < request.max) {
      this.#waited = false;
    }
  }

  /**
   * Tasks handed over to a wait that had ended (its pop left in flight, or
   * a registration made as a hand-over came), for a claim to give back
   * first.
   */
  takeLate(): Claim[] {
    return this.#handed.splice(0);
  }

  /**
   * Waits until a task may be ready in `queues` (or is handed over), a
   * delayed one is due, `seconds` pass or `signal` aborts; resolves with
   * the tasks handed over meanwhile (none when `signal` aborted: the next
   * claim takes them).
   */
  async waitForTasks(
    queues: readonly string[],
    seconds: number,
    signal?: AbortSignal,
  ): Promise<Claim[]> {
    const { keys, topology } = this.#ctx;
    const deadline = Date.now() + seconds * 1000;
    const markers = queues.map((queue) => keys.queue(queue).marker);
    const lanes = topology.blockingGroups(this.#inbox(), markers);
    while (
      !signal?.aborted && !topology.isClosed && this.#handed.length === 0
    ) {
      const now = this.#ctx.now();
      const due = Math.min(
        ...queues.map((queue) => this.#nextDue.get(queue) ?? Infinity),
      );
      if (due <= now) break;
      const wait = Math.min((deadline - Date.now()) / 1000, due - now);
      if (wait <= 0) break;
      const popped = await this.#block(lanes, wait, signal);
      if (topology.isClosed || signal?.aborted || popped === "ready") break;
      if (popped === "handed") break;
      // A marker says a task was queued: due now, or delayed but due before
      // the others (then wait for it).
      if (popped && await this.#anyDue(queues).catch(() => true)) break;
    }
    if (signal?.aborted) return [];
    const handed = this.#handed.splice(0);
    if (handed.length > 0) {
      // A registration made as these were handed over (by a claim on the
      // other connection) would hand more to this worker, now busy: it
      // ends here. Then a hand-over it missed is given back by the claim.
      topology.send(["HDEL", keys.waiting, this.#waiter])
        .catch(() => undefined);
    }
    return handed;
  }

  /**
   * Stops being handed tasks; resolves with the leases of those handed
   * over and not taken, for the caller to give back (a store that dies
   * instead leaves them to its beats' expiry).
   */
  async leave(): Promise<Lease[]> {
    const { keys, topology } = this.#ctx;
    // With the server away, closing does not wait for it: what was handed
    // over comes back as a dead worker's would.
    if (!topology.isReady) return [];
    const leases: Lease[] = [];
    if (this.#waited) {
      this.#waited = false;
      // No hand-over after this; then whatever the pop in flight has not
      // taken is still in the inbox.
      await topology.send(["HDEL", keys.waiting, this.#waiter]);
      topology.dropBlocking();
      const popped = await topology.send(["LPOP", this.#inbox(), "1000"]);
      const entries = popped === null ? [] : bulkStrings(popped, "LPOP");
      for (const entry of entries) {
        const task = inboxEntry(entry);
        if (task) leases.push({ id: task.id, token: task.token });
      }
    }
    leases.push(...this.#handed.splice(0));
    return leases;
  }

  #inbox(): string {
    return this.#ctx.keys.inbox(this.#waiter);
  }

  /**
   * The blocking pops on the markers (and the inbox), one a lane, at once:
   * "handed" when tasks were handed over (now in `#handed`), "ready" when a
   * task was queued ready, "delayed" when a delayed one may be due sooner
   * (the first of these that any lane popped, here or since the last
   * wait), false after `seconds`. The pops of the other lanes are left in
   * flight, for the next wait.
   */
  async #block(
    lanes: readonly string[][],
    seconds: number,
    signal?: AbortSignal,
  ): Promise<Popped> {
    const pops = lanes.map((keys) => this.#pop(keys, seconds));
    if (!this.#popped(lanes)) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const ends: Array<Promise<unknown>> = [
        ...pops,
        new Promise((resolve) => timer = setTimeout(resolve, seconds * 1000)),
      ];
      if (signal) {
        ends.push(
          new Promise((resolve) =>
            signal.addEventListener("abort", resolve, { once: true })
          ),
        );
      }
      await Promise.race(ends);
      clearTimeout(timer);
    }
    if (signal?.aborted) return "ready";
    return this.#popped(lanes, true);
  }

  /**
   * What the pops of `lanes` popped since the last wait (the first in the
   * order handed, ready, delayed; false for none), forgotten when `take`.
   */
  #popped(lanes: readonly string[][], take = false): Popped {
    let popped: Popped = false;
    for (const keys of lanes) {
      const lane = this.#lanes.get(keys.join("\n"));
      if (!lane?.popped) continue;
      if (!popped || ORDER.indexOf(lane.popped) < ORDER.indexOf(popped)) {
        popped = lane.popped;
      }
      if (take) lane.popped = false;
    }
    return popped;
  }

  /** The pop of a lane in flight, or a new one of `seconds`. */
  #pop(keys: readonly string[], seconds: number): Promise<Popped> {
    const id = keys.join("\n");
    let lane = this.#lanes.get(id);
    if (!lane) this.#lanes.set(id, lane = { popped: false });
    if (lane.pop) return lane.pop;
    const current = lane;
    current.pop = (async (): Promise<Popped> => {
      let popped: Popped;
      try {
        const reply = await this.#ctx.topology.sendBlocking([
          "BLMPOP",
          // Long past the wait, which ends on its own timer: the pop stays
          // in flight for the next waits instead of being sent again each
          // time (an idle worker's commands: one a lane a minute).
          Math.max(POP_SECONDS, seconds).toFixed(2),
          String(keys.length),
          ...keys,
          "LEFT",
          "COUNT",
          "1000",
        ]);
        if (reply === null) {
          popped = false;
        } else {
          const what = "BLMPOP";
          const [key, entries] = list(reply, what);
          const items = bulkStrings(entries, what, "entries");
          if (text(key, what, "key") === this.#inbox()) {
            this.#takeHanded(items);
            popped = "handed";
          } else {
            popped = String(items[0]) === "d" ? "delayed" : "ready";
          }
        }
      } catch {
        // Closed or disconnected: the caller claims (and waits) again; after
        // a pause when its node is down, not to spin on it.
        if (!this.#ctx.topology.isClosed) await delay(POP_RETRY_MS);
        popped = "ready";
      }
      current.pop = undefined;
      if (popped) current.popped = popped;
      return popped;
    })();
    return current.pop;
  }

  /** Keeps the tasks popped from the inbox, and announces them started. */
  #takeHanded(entries: readonly Buffer[]): void {
    const now = this.#ctx.now();
    // The tasks to announce started, at the time of their hand-over.
    const started: StartedTask[] = [];
    for (const entry of entries) {
      const task = inboxEntry(entry);
      // Not ours to read: its lease runs out and it is queued again.
      if (!task) continue;
      const time = startTime(task.handedAt, now);
      const claim = claimOf(this.#ctx.codec, this.#waitingAs, time, task);
      if (claim.task) {
        started.push({ time, queue: task.queue, record: task.record });
      }
      this.#handed.push(claim);
    }
    this.#pubSub.announceStarted(started, this.#waitingAs);
  }

  /** True when a queue has a ready task; learns when delayed ones are due. */
  async #anyDue(queues: readonly string[]): Promise<boolean> {
    const now = this.#ctx.now();
    const { keys, topology } = this.#ctx;
    const states = await Promise.all(queues.map(async (queue) => {
      const { ready, delayed, prio, limits } = keys.queue(queue);
      const what = `the sizes of queue ${queue}`;
      const [readyCount, first, prioritized] = await Promise.all([
        topology.send(["LLEN", ready]),
        topology.send(["ZRANGE", delayed, "0", "0", "WITHSCORES"]),
        // `prio`, or the rotation of its groups (fair queues).
        topology.send(["EXISTS", prio, groupKeys(limits).rotation]),
      ]);
      const [next] = scored(first, what);
      const due = next ? Number(next.score) : Infinity;
      this.#nextDue.set(queue, due);
      return number(readyCount, what, "LLEN") > 0 ||
        number(prioritized, what, "EXISTS") > 0 || due <= now;
    }));
    return states.some(Boolean);
  }
}

/**
 * A task of an inbox entry: netstrings (`<length>:<bytes>`), as
 * `_helpers.lua` frames them: queue, id, token, redeliveries, record, and
 * when it was handed over (absent from entries of older versions).
 * Undefined for an entry of other fields (not ours to read).
 */
function inboxEntry(entry: Buffer): ClaimedTask | undefined {
  const fields: Buffer[] = [];
  let at = 0;
  while (at < entry.length) {
    const colon = entry.indexOf(58, at); // ':'
    const length = Number(entry.subarray(at, colon).toString());
    fields.push(entry.subarray(colon + 1, colon + 1 + length));
    at = colon + 1 + length;
  }
  if (fields.length !== 5 && fields.length !== 6) return undefined;
  const [queue, id, token, redeliveries, record, handedAt] = fields;
  const handed = handedAt?.toString() ?? "";
  return {
    queue: queue.toString(),
    id: id.toString(),
    token: token.toString(),
    redeliveries: Number(redeliveries.toString()),
    record,
    ...handed !== "" && { handedAt: Number(handed) },
  };
}
