/**
 * The events table of the embedded store: publish and subscribe across the
 * processes that share the file. An event is a row, written in the
 * transaction of the change it tells (so it exists if and only if the
 * change does), and read in order of its `seq` by the change loop of every
 * process that has subscribers.
 *
 * Invariants:
 * - A subscriber gets the events written after it subscribed, each once,
 *   in the order they were written.
 * - A listener's error does not stop delivery to the others.
 * - Events are kept {@linkcode EVENT_RETENTION_SECONDS}: a writer prunes
 *   every `PRUNE_EVERY_EVENTS` events, in its transaction, and
 *   reclaim and idle listeners every {@linkcode PRUNE_EVERY_SECONDS}.
 * @module
 */
import type { Codec } from "../../model/codec.ts";
import type { MessageListener } from "../store.ts";
import type { ChangeLoopStats, LoopControl } from "./loop_control.ts";
import { EVENT_PAGE, type Statements } from "./statements.ts";

/** Seconds events are kept for subscribers of other processes. */
export const EVENT_RETENTION_SECONDS = 60;
/** Seconds between two prunes of the events table by one idle store. */
export const PRUNE_EVERY_SECONDS = EVENT_RETENTION_SECONDS / 4;
/** Events written between two prunes by one store. */
const PRUNE_EVERY_EVENTS = 1000;

interface EventRow {
  seq: number;
  channel: string;
  event: string;
  payload: Uint8Array;
}

interface Subscriber {
  listener: MessageListener;
  /** The last event seq published before it subscribed. */
  after: number;
}

/** What an event log reads and writes with. */
export interface EventLogOptions {
  sql: Statements;
  codec: Codec;
  /** The store's clock, Unix seconds. */
  now: () => number;
  /** Where its reads are counted. */
  stats: ChangeLoopStats;
  /** The change loop: it runs while anyone subscribes. */
  loop: LoopControl;
}

/** The events table of one store, and the subscribers of its process. */
export class EventLog {
  readonly #sql: Statements;
  readonly #codec: Codec;
  readonly #now: () => number;
  readonly #stats: ChangeLoopStats;
  readonly #loop: LoopControl;
  readonly #subscribers = new Map<string, Set<Subscriber>>();
  /** The last event seq the change loop has read. */
  #cursor = 0;
  /** This store wrote events that its own subscribers have not read. */
  #localEvents = false;
  #eventsSincePrune = 0;
  #lastPrune: number;
  #closed = false;

  constructor(options: EventLogOptions) {
    this.#sql = options.sql;
    this.#codec = options.codec;
    this.#now = options.now;
    this.#stats = options.stats;
    this.#loop = options.loop;
    this.#lastPrune = this.#now();
  }

  /** Whether anyone in this process subscribes. */
  get listening(): boolean {
    return this.#subscribers.size > 0;
  }

  /** When (the store's clock) the events were last pruned. */
  get lastPrune(): number {
    return this.#lastPrune;
  }

  /** Writes an event, in the open transaction. */
  insert(channel: string, event: string, payload: Uint8Array): void {
    this.#sql.publish.run(channel, event, payload, this.#now());
    if (this.#subscribers.has(channel)) this.#localEvents = true;
    // Pruning inside the writer's transaction costs one more statement now
    // and then, and keeps the table at about a minute of events.
    if (++this.#eventsSincePrune >= PRUNE_EVERY_EVENTS) this.prune();
  }

  /**
   * Called once a transaction of this store committed: its own commits do
   * not change its data version, so the loop is told of its events here.
   */
  committed(): void {
    if (this.#localEvents) this.#loop.lookSoon();
  }

  /** Deletes the events past their retention, in the open transaction. */
  prune(): void {
    this.#eventsSincePrune = 0;
    const now = this.#now();
    this.#lastPrune = now;
    const cutoff = now - EVENT_RETENTION_SECONDS;
    const first = this.#sql.firstRecentEvent.get(cutoff) as
      | { seq: number }
      | undefined;
    if (first) this.#sql.pruneEventsBefore.run(first.seq);
    else this.#sql.pruneAllEvents.run(cutoff);
  }

  /**
   * Adds a listener of the channel, for the events written from now on,
   * and starts the change loop. Resolves the call that removes it (and
   * stops the loop when nobody else needs it).
   */
  subscribe(
    channel: string,
    listener: MessageListener,
  ): () => Promise<void> {
    const last = (this.#sql.lastEvent.get() as { seq: number | null }).seq ??
      0;
    // The loop reads while anyone listens; it starts from now.
    if (this.#subscribers.size === 0) this.#cursor = last;
    const subscriber: Subscriber = { listener, after: last };
    let subscribers = this.#subscribers.get(channel);
    if (!subscribers) this.#subscribers.set(channel, subscribers = new Set());
    subscribers.add(subscriber);
    this.#loop.start();
    return () => {
      const current = this.#subscribers.get(channel);
      current?.delete(subscriber);
      if (current?.size === 0) this.#subscribers.delete(channel);
      return this.#loop.stopIfIdle();
    };
  }

  /**
   * A look of the change loop: delivers the new events when another
   * connection committed (`changed`) or this store wrote events its
   * subscribers wait for. Throws when they cannot be read; they are read
   * again at the next look.
   */
  deliverNew(changed: boolean): void {
    // Reset before delivery: a listener may publish again.
    const local = this.#localEvents;
    this.#localEvents = false;
    try {
      if ((changed || local) && this.#subscribers.size > 0) this.#deliver();
    } catch (error) {
      this.#localEvents ||= local;
      throw error;
    }
  }

  /** Forgets every subscriber and delivers no more (the store closes). */
  close(): void {
    this.#closed = true;
    this.#subscribers.clear();
  }

  /** Delivers the events published since the last look, in order. */
  #deliver(): void {
    for (;;) {
      this.#stats.reads++;
      const rows = this.#sql.eventsAfter.all(
        this.#cursor,
      ) as unknown[] as EventRow[];
      for (const row of rows) {
        this.#cursor = row.seq;
        const subscribers = this.#subscribers.get(row.channel);
        if (!subscribers) continue;
        let data: unknown;
        try {
          data = (this.#codec.decode(row.payload) as { data: unknown }).data;
        } catch {
          continue; // Written by a process with another serializer.
        }
        // `*event`: one row carrying the data of many events.
        const batch = row.event.startsWith("*") && Array.isArray(data);
        const event = batch ? row.event.slice(1) : row.event;
        for (const item of batch ? data as unknown[] : [data]) {
          const message = { channel: row.channel, event, data: item };
          for (const subscriber of [...subscribers]) {
            if (row.seq <= subscriber.after) continue;
            try {
              subscriber.listener(message);
            } catch {
              // One listener's error must not stop delivery to the others.
            }
          }
        }
        if (this.#closed) return;
      }
      if (rows.length < EVENT_PAGE) return;
    }
  }
}
