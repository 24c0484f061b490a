/**
 * Named locks on Redis: a STRING `<ns>:lock:<name>` holding
 * `<owner>\t<held until>`, taken, renewed and freed by scripts
 * (`acquire_lock.lua`, `release_lock.lua`).
 *
 * Invariant: a lock's end is on the store's clock (as every time of the
 * store); Redis drops the key a minute after it, so a dead holder leaves
 * nothing behind.
 * @module
 */
import type { RedisContext } from "./context.ts";

/** The named locks of a store. */
export class Locks {
  readonly #ctx: RedisContext;

  /** The locks of the store of `ctx`. */
  constructor(ctx: RedisContext) {
    this.#ctx = ctx;
  }

  /** Takes or renews a lock for `seconds`; true when `owner` holds it. */
  async acquireLock(
    name: string,
    owner: string,
    seconds: number,
  ): Promise<boolean> {
    const now = this.#ctx.now();
    return await this.#ctx.scripts.acquireLock(this.#ctx.keys.lock(name), {
      owner,
      now,
      heldUntil: now + seconds,
      ttl: Math.round(seconds * 1000) + 60_000,
    });
  }

  /** Frees a lock; true when `owner` held it. */
  async releaseLock(name: string, owner: string): Promise<boolean> {
    return await this.#ctx.scripts.releaseLock(this.#ctx.keys.lock(name), {
      owner,
    });
  }
}
