/**
 * The primary of a Redis Sentinel set: asked of the sentinels
 * (`SENTINEL get-master-addr-by-name`) when the store connects, and again
 * each time its connection to the primary is made again, so a failover is
 * followed by the next reconnect (or by the first write the demoted primary
 * refuses: `topology.ts` then reconnects).
 *
 * Invariants:
 * - The sentinel that answered last is asked first; the others in the
 *   order of the URL when it does not answer.
 * - Each question is one short-lived connection, closed before `locate`
 *   resolves or throws: sentinels are asked only at (re)connects.
 * - One connection listens to a sentinel's `+switch-master` (`watch`), so
 *   a failover is followed as soon as it is announced, not at the next
 *   retry of a backoff.
 * @module
 */
import { StoreConnectionError } from "../../model/errors.ts";
import { RedisClient } from "./connection.ts";
import { list, number, text } from "./replies.ts";
import type { HostPort } from "./redis_url.ts";

/** Finds the current primary of `masterName` through its sentinels. */
export class SentinelLocator {
  readonly #sentinels: HostPort[];
  readonly #masterName: string;
  readonly #connectTimeout: number;
  readonly #url: string;

  /**
   * Asks `sentinels` for `masterName` (each within `connectTimeout`
   * seconds); `url` (masked) names the store in errors.
   */
  constructor(
    sentinels: readonly HostPort[],
    masterName: string,
    connectTimeout: number,
    url: string,
  ) {
    this.#sentinels = [...sentinels];
    this.#masterName = masterName;
    this.#connectTimeout = connectTimeout;
    this.#url = url;
  }

  /**
   * Calls `onSwitch` each time the sentinels announce that another server
   * is the primary now (`+switch-master`), heard on one sentinel at a time
   * (the next one when it goes away). Returns how to stop.
   */
  watch(onSwitch: () => void): () => void {
    let next = 0;
    const sentinelAt = () => this.#sentinels[next++ % this.#sentinels.length];
    const watcher = new RedisClient(
      { ...sentinelAt(), tls: false, db: 0 },
      {
        connectTimeout: this.#connectTimeout,
        locate: () => Promise.resolve(sentinelAt()),
      },
    );
    watcher.connect()
      .then(() =>
        watcher.subscribe("+switch-master", (payload) => {
          // "<master> <old ip> <old port> <new ip> <new port>"
          if (payload.toString().split(" ")[0] === this.#masterName) {
            onSwitch();
          }
        })
      )
      // No sentinel answers now: a failover is still found by the
      // connections' own retries, a little later.
      .catch(() => watcher.destroy());
    return () => watcher.destroy();
  }

  /**
   * The primary's address, from the first sentinel that knows it; a
   * `StoreConnectionError` saying why when none does.
   */
  async locate(): Promise<HostPort> {
    const failures: string[] = [];
    let cause: unknown;
    for (const sentinel of [...this.#sentinels]) {
      const client = new RedisClient(
        { ...sentinel, tls: false, db: 0 },
        { connectTimeout: this.#connectTimeout },
      );
      const name = `${sentinel.hostname}:${sentinel.port}`;
      try {
        await client.connect();
        const reply = await client.send([
          "SENTINEL",
          "get-master-addr-by-name",
          this.#masterName,
        ]);
        if (reply === null) {
          failures.push(`${name} knows no primary '${this.#masterName}'`);
          continue;
        }
        const what = "SENTINEL get-master-addr-by-name";
        const [host, port] = list(reply, what);
        // Asked first next time.
        this.#sentinels.splice(this.#sentinels.indexOf(sentinel), 1);
        this.#sentinels.unshift(sentinel);
        return { hostname: text(host, what), port: number(port, what) };
      } catch (error) {
        cause = error;
        failures.push(
          `${name}: ${error instanceof Error ? error.message : error}`,
        );
      } finally {
        client.destroy();
      }
    }
    // Caused by the last sentinel's failure to answer, if any (then a
    // server starting waits for the sentinels, as for any server).
    throw new StoreConnectionError(
      `Cannot find the primary of ${this.#url}: ${failures.join("; ")}`,
      { cause },
    );
  }
}
