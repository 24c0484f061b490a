/**
 * One log line per store outage, not one per failed call. The parts of a
 * process that call the store on their own, again and again (the
 * consumer's claims, waits and reclaims, lease renewals and outcomes, the
 * beat, the heartbeat, the scheduler), report each failed call here, and
 * the calls that succeed.
 *
 * Invariants:
 * - A failure that is a connection problem ({@linkcode StoreConnectionError}
 *   and its subclasses; see {@linkcode connectionProblem}) while the store
 *   is up starts an outage, logged once as a warning: `Lost the store
 *   <url>: <reason>; retrying until it is back`. The URL is the one the
 *   error names (masked, as in every store error).
 * - While the store is down, every connection failure is logged at debug
 *   level only, with what failed.
 * - The first success while the store is down ends the outage, logged once
 *   at info level: `The store is back after <s> s`, counted from the start
 *   of the first call that failed.
 * - A call that began before the store came back and fails after it (a
 *   command waits a while for its connection), or any that fails within
 *   {@linkcode SETTLE_MS} of it (each connection of a process comes back on
 *   its own, a moment apart), belongs to the outage that ended: debug
 *   level, no new outage.
 * - Any other error (a bug, a malformed record) is not this module's:
 *   `failed` returns false and the caller logs it as before.
 * - One tracker per JavaScript realm ({@linkcode storeOutage}): a worker
 *   process has one, and so does the arbiter; a Web Worker would have its
 *   own, so the beat thread reports to its process's through messages.
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { StoreConnectionError } from "../model/errors.ts";

const logger = getLogger(["pq", "store"]);

/**
 * Milliseconds after the store came back during which a connection
 * failure is still the outage's: each connection (commands, the blocking
 * wait, pub/sub, the beat thread's) reconnects on its own backoff, up to a
 * few seconds after the first one is back.
 */
export const SETTLE_MS = 5000;

/**
 * True when a store call failed for want of the store: a
 * {@linkcode StoreConnectionError} (and its subclasses), which every store
 * throws for a connection that is down (the Redis store wraps its client's
 * errors in one).
 *
 * @example
 * ```ts
 * import { connectionProblem } from "./store_outage.ts";
 * import { StoreConnectionError } from "../model/errors.ts";
 * connectionProblem(new StoreConnectionError("Cannot reach redis://h/0")); // true
 * connectionProblem(new TypeError("a bug")); // false
 * ```
 */
export function connectionProblem(error: unknown): boolean {
  return error instanceof StoreConnectionError;
}

/** Where a store URL begins in an error message. */
const STORE_URL = /(?:rediss?|redis\+sentinel|sqlite):/;

/**
 * The store an error message names and the reason after it: `Cannot reach
 * redis://h:6379/0: not connected for 5 s` is `redis://h:6379/0` and `not
 * connected for 5 s`. A message that names no store URL is all reason.
 *
 * @example
 * ```ts
 * import { storeAndReason } from "./store_outage.ts";
 * storeAndReason("Cannot reach redis://h:6379/0: not connected for 5 s");
 * // { store: "redis://h:6379/0", reason: "not connected for 5 s" }
 * ```
 */
export function storeAndReason(
  message: string,
): { store?: string; reason: string } {
  const start = message.search(STORE_URL);
  // A URL holds no blank: the first ": " after its start ends it.
  const end = start < 0 ? -1 : message.indexOf(": ", start);
  if (end < 0) return { reason: message };
  return {
    store: message.slice(start, end).replace(/'$/, ""),
    reason: message.slice(end + 2),
  };
}

/** Options of a {@linkcode StoreOutage}. */
export interface StoreOutageOptions {
  /** The clock, in milliseconds (tests inject their own). */
  now?: () => number;
}

/**
 * Tracks whether the store is reachable, from the calls reported to it,
 * and logs each outage once (see the module header).
 *
 * @example
 * ```ts
 * import { StoreOutage } from "./store_outage.ts";
 * import { StoreConnectionError } from "../model/errors.ts";
 * const outage = new StoreOutage();
 * const error = new StoreConnectionError("Cannot reach redis://h/0: down");
 * outage.failed(error, "cannot claim tasks"); // true: logged once, as a warning
 * outage.failed(error, "cannot beat"); // true: debug only
 * outage.succeeded(); // "The store is back after 0 s"
 * outage.failed(new Error("a bug"), "cannot claim tasks"); // false: yours
 * ```
 */
export class StoreOutage {
  readonly #now: () => number;
  /** When the first failed call of the outage began; undefined while up. */
  #downSince?: number;
  /** When the last outage ended. */
  #backAt = -Infinity;

  /** Makes a tracker of its own (a process uses {@linkcode storeOutage}). */
  constructor(options: StoreOutageOptions = {}) {
    this.#now = options.now ?? Date.now;
  }

  /** True while an outage runs (a connection failure, no success since). */
  get down(): boolean {
    return this.#downSince !== undefined;
  }

  /**
   * Reports a failed store call. A connection problem is logged here (see
   * the module header) and returns true; any other error returns false,
   * for the caller to log.
   *
   * @param error What the call threw.
   * @param what What failed, for the debug line: `cannot claim tasks`.
   * @param since When the call began (ms, the tracker's clock; default:
   * now).
   * @returns Whether the error was a connection problem, logged here.
   */
  failed(error: unknown, what: string, since?: number): boolean {
    if (!connectionProblem(error)) return false;
    this.lost((error as Error).message, what, since);
    return true;
  }

  /**
   * Reports a connection problem known as such (the beat thread's, which
   * crosses threads as text).
   *
   * @param message The error's message.
   * @param what What failed, for the debug line.
   * @param since When the call began (ms; default: now).
   */
  lost(message: string, what: string, since?: number): void {
    const now = this.#now();
    const began = Math.min(since ?? now, now);
    const settling = began < this.#backAt || now - this.#backAt < SETTLE_MS;
    if (this.#downSince !== undefined || settling) {
      logger.debug("The store is still away: {what}: {reason}", {
        what,
        reason: message,
      });
      return;
    }
    this.#downSince = began;
    const { store, reason } = storeAndReason(message);
    if (store) {
      logger.warn(
        "Lost the store {store}: {reason}; retrying until it is back",
        { store, reason },
      );
    } else {
      logger.warn("Lost the store: {reason}; retrying until it is back", {
        reason,
      });
    }
  }

  /** Reports a store call that succeeded: it ends an outage, if one runs. */
  succeeded(): void {
    if (this.#downSince === undefined) return;
    const now = this.#now();
    const seconds = Math.round((now - this.#downSince) / 100) / 10;
    this.#downSince = undefined;
    this.#backAt = now;
    logger.info("The store is back after {seconds} s", { seconds });
  }
}

/**
 * This process's tracker (one per JavaScript realm): the consumer, the
 * lease calls, the beat, the heartbeat and the scheduler report to it.
 */
export const storeOutage: StoreOutage = new StoreOutage();
