/**
 * The workers' beats on Redis: a ZSET worker → alive until, and a HASH
 * worker → its encoded status, on one Cluster slot (`{workers}`). A beat is
 * one script (`beat.lua`) that also reports the workers whose beat
 * expired, each to one beater only, and forgets them.
 *
 * Invariants: a worker's status is written when it changed, and every
 * 10th beat anyway (a store restarted from an old file gets it back); a
 * beat that finds itself forgotten (reported dead meanwhile) writes it
 * again at once. A beat given `cutOffSince` (its beater had lost the store
 * since) reports only the workers whose beat expired before that time.
 * @module
 */
import type { Buffer } from "node:buffer";
import {
  parseWorkerStatus,
  type WorkerStatus,
} from "../../model/worker_status.ts";
import type { BeatOptions, BeatReport } from "../store.ts";
import type { RedisContext } from "./context.ts";
import { bytesOrNil, list, scored } from "./replies.ts";

/** The beats of the workers of a store. */
export class Beats {
  readonly #ctx: RedisContext;
  /** Per worker beating here: its last status written, and beats since. */
  readonly #beats = new Map<string, { key: string; count: number }>();

  /** The beats of the store of `ctx`. */
  constructor(ctx: RedisContext) {
    this.#ctx = ctx;
  }

  /** A worker's beat (see `Store.beat`). */
  async beat(
    status: WorkerStatus,
    options: BeatOptions = {},
  ): Promise<BeatReport> {
    const { time: _time, until: _until, ...rest } = status;
    const key = JSON.stringify(rest);
    const last = this.#beats.get(status.worker);
    const write = !last || last.key !== key || last.count % 10 === 9;
    this.#beats.set(status.worker, {
      key,
      count: write ? 0 : (last?.count ?? 0) + 1,
    });
    const report = await this.#beat(status, write, options);
    if (report.known || write) return report;
    // Found dead meanwhile, its status went with its beat: written again.
    const again = await this.#beat(status, true, options);
    return { ...again, dead: [...report.dead, ...again.dead], known: false };
  }

  /** The workers whose beat has not expired, by name. */
  async liveWorkers(): Promise<WorkerStatus[]> {
    const { keys, topology } = this.#ctx;
    const { beats, status: statuses } = keys.workers;
    const live = scored(
      await topology.send([
        "ZRANGE",
        beats,
        String(this.#ctx.now()),
        "+inf",
        "BYSCORE",
        "WITHSCORES",
      ]),
      "ZRANGE of the beats",
    );
    if (live.length === 0) return [];
    const what = "HMGET of the workers' statuses";
    const encoded = list(
      await topology.send([
        "HMGET",
        statuses,
        ...live.map(({ member }) => member),
      ]),
      what,
    );
    return live.flatMap(({ score }, i) => {
      const status = this.#decodeStatus(bytesOrNil(encoded[i], what, i));
      return status ? [{ ...status, until: Number(score) }] : [];
    }).sort((a, b) => a.worker < b.worker ? -1 : a.worker > b.worker ? 1 : 0);
  }

  /** Forgets a worker that stops (see `Store.leave`). */
  async leave(worker: string): Promise<void> {
    const { beats, status: statuses } = this.#ctx.keys.workers;
    this.#beats.delete(worker);
    await this.#ctx.topology.send(["ZREM", beats, worker]);
    await this.#ctx.topology.send(["HDEL", statuses, worker]);
  }

  /** One beat, its status written or not. */
  async #beat(
    status: WorkerStatus,
    write: boolean,
    { cutOffSince }: BeatOptions,
  ): Promise<BeatReport> {
    const reply = await this.#ctx.scripts.beat(this.#ctx.keys.workers, {
      now: this.#ctx.now(),
      worker: status.worker,
      aliveUntil: status.until,
      status: write ? this.#ctx.codec.encode(status) : "",
      cutOffSince: cutOffSince ?? "",
    });
    return {
      dead: reply.dead.flatMap((encoded) => {
        const worker = this.#decodeStatus(encoded);
        return worker ? [worker] : [];
      }),
      known: reply.known,
      ...reply.next !== undefined && { next: reply.next },
    };
  }

  /** A stored worker status, or undefined when none or unreadable. */
  #decodeStatus(encoded: Buffer | null): WorkerStatus | undefined {
    if (encoded === null || encoded.length === 0) return undefined;
    try {
      return parseWorkerStatus(this.#ctx.codec.decode(encoded));
    } catch {
      return undefined;
    }
  }
}
