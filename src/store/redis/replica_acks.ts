/**
 * `durability=replicated`: a write is reported done once a replica has it
 * (`WAIT 1`), and a store does not open on a primary with no replica.
 *
 * Invariants:
 * - The writes sent on one connection in one turn of the event loop share
 *   one `WAIT`, written after them (at `setImmediate`, after the client
 *   wrote the turn's commands): a write never shares a `WAIT` sent before
 *   it, which would not cover it.
 * - A `WAIT` that no replica answered within `REPLICA_WAIT_MS` is a
 *   `StoreConnectionError` saying the write may be lost.
 * @module
 */
import { setImmediate } from "node:timers";
import { StoreConnectionError } from "../../model/errors.ts";
import type { RedisClient } from "./connection.ts";
import type { RedisReply } from "./resp.ts";

/** Milliseconds a write waits for a replica. */
export const REPLICA_WAIT_MS = 2000;

/** The replicas' acknowledgments the writes of one store wait for. */
export class ReplicaAcks {
  readonly #url: string;
  /** The `WAIT` of each connection, until it is sent. */
  readonly #waits = new Map<RedisClient, Promise<RedisReply>>();

  /** For the store of `url` (masked: for messages). */
  constructor(url: string) {
    this.#url = url;
  }

  /**
   * Resolves once a replica has what was written on `client` so far;
   * throws when none acknowledged within `REPLICA_WAIT_MS`.
   */
  after(client: RedisClient): Promise<RedisReply> {
    let wait = this.#waits.get(client);
    if (!wait) {
      wait = new Promise<void>((resolve) => setImmediate(resolve))
        .then(() => {
          // Writes from now on are after this WAIT: they need another.
          this.#waits.delete(client);
          return client.send(["WAIT", "1", String(REPLICA_WAIT_MS)]);
        })
        .catch((error) => {
          throw new StoreConnectionError(
            `${this.#url}: lost the connection waiting for a replica: ${error.message}`,
            { cause: error },
          );
        })
        .then((acknowledged) => {
          if (Number(acknowledged) >= 1) return acknowledged;
          throw new StoreConnectionError(
            `${this.#url}: no replica acknowledged a write within ${REPLICA_WAIT_MS} ms (durability=replicated); it may be lost if the primary fails now`,
          );
        });
      this.#waits.set(client, wait);
    }
    return wait;
  }

  /**
   * Throws when a primary of `primaries` (connected within `timeoutMs`)
   * has no replica connected: every write would fail.
   */
  async check(
    primaries: readonly RedisClient[],
    timeoutMs: number,
  ): Promise<void> {
    for (const client of primaries) {
      await client.whenReady(timeoutMs);
      const info = String(await client.send(["INFO", "replication"]));
      const connected = Number(info.match(/connected_slaves:(\d+)/)?.[1] ?? 0);
      if (connected < 1) {
        throw new StoreConnectionError(
          `Cannot open store ${this.#url}: durability=replicated needs a replica, and a primary has none connected`,
        );
      }
    }
  }
}
