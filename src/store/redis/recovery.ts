/**
 * The recovery of tasks whose worker is gone: leases that expired are
 * found by `expired.lua` (which also drops finished records past their
 * retention) and each task either goes back to its queue, counted as a
 * redelivery, or ends (too many redeliveries, or revoked), as
 * `afterLeaseExpired` in `_reasons.ts` decides, as in the SQLite store. A
 * dead worker's leases are ended at once by `expire_leases.lua`, for the
 * next reclaim to find.
 *
 * Invariant: each step is written only where the lease is still the
 * expired one (`onlyExpired`): a task renewed or finished meanwhile by a
 * worker that was slow, not dead, is left as that worker left it.
 * @module
 */
import { TaskStatus } from "../../model/status.ts";
import { afterLeaseExpired } from "../_reasons.ts";
import type { Finish, Lease, ReclaimReport } from "../store.ts";
import type { RedisContext } from "./context.ts";
import type { Leases } from "./leases.ts";

/** Expired leases handled per queue per reclaim. */
const RECLAIM_BATCH = 500;

/** What comes back when workers are gone. */
export class Recovery {
  readonly #ctx: RedisContext;
  readonly #leases: Leases;

  /** The recovery of the leases of `leases`. */
  constructor(ctx: RedisContext, leases: Leases) {
    this.#ctx = ctx;
    this.#leases = leases;
  }

  /**
   * Queues again, or ends, the tasks of `queues` whose lease expired, and
   * drops their finished records past retention (see `Store.reclaim`).
   */
  async reclaim(
    maxRedeliveries: number,
    queues: readonly string[],
  ): Promise<ReclaimReport> {
    const { keys, scripts } = this.#ctx;
    const report: ReclaimReport = { redelivered: 0, failed: 0, changed: [] };
    for (const queue of queues) {
      const now = this.#ctx.now();
      const expired = await scripts.expired(keys.queue(queue), {
        now,
        limit: RECLAIM_BATCH,
      });
      const again: Lease[] = [];
      const ended: Finish[] = [];
      for (const { id, token, record, revokeAsked, ...lease } of expired) {
        const redeliveries = lease.redeliveries + 1;
        const ending = afterLeaseExpired(
          id,
          redeliveries,
          maxRedeliveries,
          revokeAsked,
        );
        if (!ending) {
          again.push({ id, token });
          continue;
        }
        const task = this.#leases.endedRecord(queue, id, record, now, ending);
        ended.push({ id, token, task });
      }
      if (again.length) {
        const { released, revoked } = await scripts.release(keys.queue(queue), {
          now,
          channel: keys.channel("task"),
          count: "1",
          onlyExpired: "1",
          leases: again,
        });
        report.redelivered += released.length;
        report.changed.push(...released);
        // Revoked between EXPIRED and RELEASE.
        report.changed.push(
          ...await this.#leases.endRevoked(queue, revoked, now, true),
        );
      }
      if (ended.length) {
        const written = await this.#leases.finish(ended, true);
        ended.forEach((finish, i) => {
          if (!written[i]) return;
          if (finish.task.status === TaskStatus.FAILURE) report.failed++;
          report.changed.push(finish.id);
        });
      }
    }
    return report;
  }

  /**
   * Ends the leases of a dead worker's tasks in `queues` (see
   * `Store.expireLeases`); resolves with how many.
   */
  async expireLeases(
    worker: string,
    queues: readonly string[],
  ): Promise<number> {
    const { keys, scripts, topology, namespace } = this.#ctx;
    const ended = await Promise.all(
      queues.map((queue) =>
        scripts.expireLeases(keys.queue(queue), {
          worker,
          namespace: topology.scriptNamespace(namespace),
        })
      ),
    );
    return ended.reduce((sum, n) => sum + n, 0);
  }
}
