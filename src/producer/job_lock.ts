/**
 * Job locks: named locks in the store that their holder renews, so a dead
 * holder blocks others for one `timeout` at most.
 * @module
 */
import { delay } from "../model/_abort.ts";
import { getLogger } from "@logtape/logtape";
import { LockError } from "../model/errors.ts";
import type { JobLock, LockOptions } from "../runtime/job.ts";
import type { Locks } from "../store/store.ts";
import { newTaskId } from "../model/task.ts";

const logger = getLogger(["pq", "lock"]);

/** Seconds a job lock lasts unless renewed, when not given. */
const DEFAULT_LOCK_SECONDS = 30;

/** Seconds between two tries for a lock that is held. */
const RETRY_SECONDS = 0.2;

/** Job locks live apart from the store's own locks (scheduler, slots...). */
function storeName(name: string): string {
  return `job:${name}`;
}

/**
 * Takes the lock `name` in `store`, trying every 0.2 s while another holder
 * has it, for at most `wait` seconds or until `signal` aborts. The lock is
 * renewed every third of `timeout` until it is released.
 */
export async function acquireJobLock(
  store: Locks,
  name: string,
  options: LockOptions = {},
): Promise<JobLock> {
  const seconds = options.timeout ?? DEFAULT_LOCK_SECONDS;
  const wait = options.wait ?? Infinity;
  if (typeof name !== "string" || name === "") {
    throw new TypeError(
      `Cannot take a lock without a name: got ${JSON.stringify(name)}`,
    );
  }
  if (!(typeof seconds === "number" && seconds > 0 && isFinite(seconds))) {
    throw new TypeError(
      `Cannot take lock '${name}' as 'timeout' must be a number of seconds > 0: got ${seconds}`,
    );
  }
  if (!(typeof wait === "number" && wait >= 0)) {
    throw new TypeError(
      `Cannot take lock '${name}' as 'wait' must be a number of seconds >= 0: got ${wait}`,
    );
  }
  const owner = newTaskId();
  const key = storeName(name);
  const giveUpAt = Date.now() + wait * 1000;
  while (!(await store.acquireLock(key, owner, seconds))) {
    if (Date.now() >= giveUpAt) {
      throw new LockError(
        `Cannot take lock '${name}': still held by another holder after ${wait} s`,
      );
    }
    await delay(
      Math.min(RETRY_SECONDS * 1000, Math.max(0, giveUpAt - Date.now())),
      { signal: options.signal },
    );
  }
  return new StoreLock(store, name, owner, seconds);
}

class StoreLock implements JobLock {
  readonly name: string;
  readonly #store: Locks;
  readonly #owner: string;
  readonly #timer: ReturnType<typeof setInterval>;
  #released?: Promise<void>;

  constructor(store: Locks, name: string, owner: string, seconds: number) {
    this.name = name;
    this.#store = store;
    this.#owner = owner;
    this.#timer = setInterval(() => this.#renew(seconds), seconds * 1000 / 3);
  }

  async #renew(seconds: number): Promise<void> {
    try {
      const held = await this.#store.acquireLock(
        storeName(this.name),
        this.#owner,
        seconds,
      );
      if (!held) {
        logger.warn("Lock {name} was lost: it expired before its renewal", {
          name: this.name,
        });
      }
    } catch (error) {
      logger.warn("Cannot renew lock {name}: {error}", {
        name: this.name,
        error,
      });
    }
  }

  release(): Promise<void> {
    this.#released ??= (async () => {
      clearInterval(this.#timer);
      await this.#store.releaseLock(storeName(this.name), this.#owner);
    })();
    return this.#released;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.release();
  }
}
