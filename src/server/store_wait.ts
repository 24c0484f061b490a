/**
 * A server started while its store is down waits for it, and says so,
 * instead of exiting: every place a server opens its store (the arbiter,
 * a worker process, its beat thread, the scheduler) opens it through
 * {@linkcode openStoreWaiting}. Clients (the `pq` commands, producers)
 * do not wait: they open their store directly and fail at once.
 *
 * Invariants:
 * - Only a connection failure is waited out ({@linkcode connectionFailure}:
 *   the connection was refused, reset or timed out, or the host name does
 *   not resolve yet). Any other failure (a malformed URL, a wrong password,
 *   a CA file that cannot be read, a SQLite file that cannot be opened) is
 *   thrown at once, as it is without waiting.
 * - `storeWait` seconds bound the wait: 0 does not wait (the first failure
 *   is thrown as it is), `Infinity` waits without end. When the time is up
 *   the last failure is thrown, saying how long it waited.
 * - Tries again after 0.5 s, then twice as long each time, 5 s at most.
 * - Says once per process (all its openers together) that it waits, with
 *   the reason, and once that the store is there; other tries are logged
 *   at debug level.
 * - The server stopping (`signal`) ends the wait: it resolves undefined.
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { delay } from "../model/_abort.ts";
import { StoreConnectionError } from "../model/errors.ts";
import type { Settings } from "../model/settings_types.ts";
import { storeAndReason } from "../runtime/store_outage.ts";
import { openSettingsStore } from "../store/open_store.ts";
import type { Store } from "../store/store.ts";

const logger = getLogger(["pq", "store"]);

/** Milliseconds before the second try. */
const FIRST_WAIT_MS = 500;
/** The longest wait between two tries, in milliseconds. */
const MAX_WAIT_MS = 5000;

/** The errors of a socket that found no server there, or lost it. */
const NETWORK_ERRORS: ReadonlyArray<new (...args: never[]) => Error> = [
  Deno.errors.ConnectionRefused,
  Deno.errors.ConnectionReset,
  Deno.errors.ConnectionAborted,
  Deno.errors.NotConnected,
  Deno.errors.TimedOut,
  Deno.errors.AddrNotAvailable,
  Deno.errors.BrokenPipe,
  Deno.errors.UnexpectedEof,
];

/**
 * Messages of the errors without a class of their own that say the same:
 * the store's own connect timeout, a server that closed the connection,
 * and a host name that does not resolve (yet: a container starting).
 */
const NETWORK_MESSAGES =
  /^(no answer in \d|Socket closed by the server|failed to lookup address information)/;

/**
 * The Redis client's errors of a connection that did not come up (no
 * answer in time, closed during the handshake), told by name: importing
 * their classes would load the Redis client, which is loaded only when a
 * Redis URL is opened. One with a cause is told by that cause instead.
 */
const REDIS_CONNECTION_ERRORS = new Set([
  "RedisTimeoutError",
  "RedisConnectionError",
]);

/**
 * True when `error` is a store that could not be reached, which may come
 * (a `StoreConnectionError` whose first cause is a network failure); false
 * for one that will not (a bad URL, a refused password, a bad certificate)
 * and for any other error.
 *
 * @example
 * ```ts
 * import { connectionFailure } from "./store_wait.ts";
 * import { StoreConnectionError } from "../model/errors.ts";
 * const refused = new Deno.errors.ConnectionRefused("Connection refused");
 * connectionFailure(
 *   new StoreConnectionError("Cannot connect to redis://h/0", { cause: refused }),
 * ); // true
 * connectionFailure(new StoreConnectionError("Cannot open store 'x': not a URL")); // false
 * ```
 */
export function connectionFailure(error: unknown): boolean {
  if (!(error instanceof StoreConnectionError)) return false;
  // The first cause: what the socket said, under the store's wrappers.
  let root: unknown = error;
  for (let depth = 0; depth < 10; depth++) {
    const cause = (root as { cause?: unknown })?.cause;
    if (cause === undefined) break;
    root = cause;
  }
  if (root === error) return false;
  if (NETWORK_ERRORS.some((type) => root instanceof type)) return true;
  if (root instanceof DOMException) {
    return root.name === "TimeoutError" || root.name === "AbortError";
  }
  if (!(root instanceof Error)) return false;
  if (REDIS_CONNECTION_ERRORS.has(root.name)) {
    return root.message !== "Client closed";
  }
  return NETWORK_MESSAGES.test(root.message);
}

/** Options of {@linkcode openStoreWaiting}. */
export interface StoreWaitOptions {
  /** Aborts to stop waiting (the server stops): resolves undefined. */
  signal?: AbortSignal;
  /** Opens the store (default: `openSettingsStore`; tests inject one). */
  open?: (settings: Settings) => Promise<Store>;
  /** False to wait without a word (a Web Worker has no logging). */
  log?: boolean;
}

/** When this process began to wait for its store; undefined when not. */
let waitingSince: number | undefined;

/**
 * Opens the store of a server, waiting for it up to `settings.storeWait`
 * seconds while it cannot be reached (see the module header).
 *
 * @param settings The server's settings (`dataStore`, `messageBroker`,
 * `storeWait`...).
 * @param options The stop signal, and how to open the store.
 * @returns The store, or undefined when `signal` aborted the wait.
 * @throws {StoreConnectionError} at once for a store that cannot be opened
 * for another reason than a connection failure; after `storeWait` seconds
 * for one that could not be reached.
 *
 * @example
 * ```ts
 * import { openStoreWaiting } from "./store_wait.ts";
 * import { defaultSettings } from "../model/settings_table.ts";
 * const settings = { ...defaultSettings(), storeWait: 30 };
 * await using store = await openStoreWaiting(settings);
 * ```
 */
export async function openStoreWaiting(
  settings: Settings,
  options: StoreWaitOptions = {},
): Promise<Store | undefined> {
  const { signal, open = openSettingsStore, log = true } = options;
  const limit = settings.storeWait * 1000;
  const started = Date.now();
  let wait = FIRST_WAIT_MS;
  for (;;) {
    let failure: StoreConnectionError;
    try {
      const store = await open(settings);
      if (log && waitingSince !== undefined) {
        const seconds = Math.round((Date.now() - waitingSince) / 100) / 10;
        logger.info("Connected to the store {store} after {seconds} s", {
          store: store.url,
          seconds,
        });
      }
      waitingSince = undefined;
      return store;
    } catch (error) {
      if (!connectionFailure(error) || limit === 0) throw error;
      failure = error as StoreConnectionError;
    }
    const waited = Date.now() - started;
    if (waited >= limit) {
      waitingSince = undefined;
      const bound = settings.storeWait;
      throw new StoreConnectionError(
        `${failure.message}; gave up after waiting ${bound} s (--store-wait ${bound})`,
        { cause: failure },
      );
    }
    if (log) tell(failure);
    try {
      await delay(Math.min(wait, limit - waited), { signal });
    } catch {
      // Said once, whichever opener of this process stops first.
      if (log && waitingSince !== undefined) {
        logger.info("Stopped while waiting for the store");
      }
      waitingSince = undefined;
      return undefined;
    }
    wait = Math.min(2 * wait, MAX_WAIT_MS);
  }
}

/** Says that the store is waited for: once, then at debug level. */
function tell(failure: StoreConnectionError): void {
  if (waitingSince !== undefined) {
    logger.debug("Still waiting for the store: {reason}", {
      reason: failure.message,
    });
    return;
  }
  waitingSince = Date.now();
  const { store, reason } = storeAndReason(failure.message);
  logger.warn(
    "Waiting for the store {store}: {reason} (--store-wait bounds the wait)",
    { store: store ?? "", reason },
  );
}
