/**
 * The store calls a consumer makes for the leases it holds: writing the
 * outcomes of its tasks, and renewing the leases of the running ones.
 * Neither throws: a store that is away is retried (outcomes) or logged
 * (renewals), and a lease lost meanwhile means the task runs again
 * elsewhere, never that it is lost. A store that is away is said once per
 * outage (`runtime/store_outage.ts`), not once per call.
 * @module
 */
import { getLogger } from "@logtape/logtape";
import { TaskRevoked } from "../model/errors.ts";
import { revokedWhileRunning } from "../store/_reasons.ts";
import { storeOutage } from "../runtime/store_outage.ts";
import type { Finish, TaskLeases } from "../store/store.ts";

const logger = getLogger(["pq", "consumer"]);

/**
 * Writes outcomes, trying again while the store is away (a Redis restart)
 * for as long as the leases last (`leaseSeconds`); after that the tasks run
 * again elsewhere. `onRecorded` gets the outcomes whose lease was held.
 */
export async function writeOutcomes(
  store: Pick<TaskLeases, "finish">,
  batch: readonly Finish[],
  leaseSeconds: number,
  onRecorded?: (finishes: readonly Finish[]) => void,
): Promise<void> {
  const giveUp = Date.now() + leaseSeconds * 1000;
  for (let attempt = 1;; attempt++) {
    const since = Date.now();
    try {
      const written = await store.finish(batch);
      storeOutage.succeeded();
      onRecorded?.(batch.filter((_, i) => written[i]));
      batch.forEach((finish, i) => {
        if (!written[i]) {
          logger.warn(
            "Lease of task {id} was lost: its outcome is dropped, the task runs again",
            { id: finish.id },
          );
        }
      });
      return;
    } catch (error) {
      const n = batch.length;
      const outcomes = n === 1 ? "outcome" : "outcomes";
      if (Date.now() > giveUp) {
        const what = `cannot record ${n} ${outcomes}; ${
          n === 1 ? "it runs" : "they run"
        } again elsewhere`;
        if (!storeOutage.failed(error, what, since)) {
          logger.error(
            `Cannot record {n} ${outcomes}; ${
              n === 1 ? "it runs" : "they run"
            } again elsewhere: {error}`,
            { n, error },
          );
        }
        return;
      }
      const what = `cannot record ${n} ${outcomes} yet (attempt ${attempt})`;
      if (!storeOutage.failed(error, what, since)) {
        logger.warn(
          `Cannot record {n} ${outcomes} yet (attempt {attempt}): {error}`,
          { n, attempt, error },
        );
      }
      await new Promise((resolve) =>
        setTimeout(resolve, Math.min(1000, 100 * attempt))
      );
    }
  }
}

/**
 * Extends the leases of the running tasks by `leaseSeconds`, and stops the
 * tasks whose lease was lost or whose revoke was asked for.
 */
export async function renewLeases(
  store: Pick<TaskLeases, "renew">,
  running: ReadonlyMap<
    string,
    { claim: { id: string; token: string }; controller: AbortController }
  >,
  leaseSeconds: number,
): Promise<void> {
  const leases = [...running.values()].map(({ claim }) => ({
    id: claim.id,
    token: claim.token,
  }));
  if (leases.length === 0) return;
  const since = Date.now();
  try {
    const { lost, revoked } = await store.renew(leases, leaseSeconds);
    storeOutage.succeeded();
    for (const id of lost) {
      running.get(id)?.controller.abort(
        new TaskRevoked(`Lease of task ${id} was lost`),
      );
    }
    for (const id of revoked) {
      running.get(id)?.controller.abort(
        new TaskRevoked(revokedWhileRunning(id)),
      );
    }
  } catch (error) {
    if (!storeOutage.failed(error, "cannot renew leases", since)) {
      logger.error("Cannot renew leases: {error}", { error });
    }
  }
}
