/**
 * The store as an application's {@linkcode Manager} sees it: a decorator
 * that forwards every call to the store, then awaits `storeMessage` for each
 * message the call published. A failing `storeMessage` is logged and never
 * fails the call: the store's change is made by then.
 * @module
 */
import { getLogger } from "@logtape/logtape";
import type { ChannelMessage } from "../model/events.ts";
import { Manager } from "./manager.ts";
import type { DedupeOptions } from "../model/queue_options.ts";
import { TaskStatus } from "../model/status.ts";
import type { TaskProgress, TaskRecord } from "../model/task.ts";
import type { TaskStep } from "../model/task_step.ts";
import type {
  Claim,
  ClaimRequest,
  Finish,
  Lease,
  ReclaimReport,
  RevokeOutcome,
  Store,
  UniqueOutcome,
} from "../store/store.ts";
import { storeWith } from "../store/store_with.ts";

const logger = getLogger(["pq", "manager"]);

/**
 * The store as the manager sees it: every task event and message this
 * process publishes through it is passed to `storeMessage` (awaited). A
 * manager that keeps the default `storeMessage` gets the store itself.
 */
export function managedStore(store: Store, manager: Manager): Store {
  if (manager.storeMessage === Manager.prototype.storeMessage) return store;
  return wrapStore(store, manager);
}

const task = (event: string, data: TaskRecord): ChannelMessage => ({
  channel: "task",
  event,
  data,
});

/**
 * Forwards every call to the store, then tells the manager what the call
 * published.
 */
function wrapStore(store: Store, manager: Manager): Store {
  const tell = async (messages: Iterable<ChannelMessage>) => {
    for (const message of messages) {
      try {
        await manager.storeMessage(message);
      } catch (error) {
        logger.error(
          "Manager storeMessage failed on {channel}/{event}: {error}",
          { channel: message.channel, event: message.event, error },
        );
      }
    }
  };
  // Tasks put back in their queue are queued again, or ended (revoked
  // meanwhile, or redelivered too often): their stored state says which.
  const tellState = async (ids: readonly string[]) => {
    const records = await Promise.all(
      ids.map((id) => store.get(id).catch(() => undefined)),
    );
    await tell(
      records.flatMap((record) =>
        record
          ? [
            task(
              record.status === TaskStatus.QUEUED ? "queued" : "done",
              record,
            ),
          ]
          : []
      ),
    );
  };
  const overrides: Partial<Store> = {
    async enqueue(tasks: readonly TaskRecord[]): Promise<void> {
      await store.enqueue(tasks);
      await tell(tasks.map((record) => task("queued", record)));
    },
    async enqueueUnique(
      record: TaskRecord,
      dedupe?: DedupeOptions,
    ): Promise<UniqueOutcome> {
      const outcome = await store.enqueueUnique(record, dedupe);
      // A duplicate wrote nothing, and published nothing.
      if (outcome.queued) await tell([task("queued", record)]);
      return outcome;
    },
    async claim(request: ClaimRequest): Promise<Claim[]> {
      const claims = await store.claim(request);
      await tell(
        claims.flatMap((claim) =>
          claim.task ? [task("started", claim.task)] : []
        ),
      );
      return claims;
    },
    async waitForTasks(
      queues: readonly string[],
      seconds: number,
      signal?: AbortSignal,
    ): Promise<Claim[]> {
      const claims = await store.waitForTasks(queues, seconds, signal);
      await tell(
        claims.flatMap((claim) =>
          claim.task ? [task("started", claim.task)] : []
        ),
      );
      return claims;
    },
    async finish(outcomes: readonly Finish[]): Promise<boolean[]> {
      const written = await store.finish(outcomes);
      await tell(
        outcomes.flatMap((outcome, i) =>
          !written[i]
            ? []
            : outcome.retry
            ? [task("done", outcome.task), task("queued", outcome.retry)]
            : [task("done", outcome.task)]
        ),
      );
      return written;
    },
    async release(leases: readonly Lease[]): Promise<void> {
      await store.release(leases);
      await tellState(leases.map(({ id }) => id));
    },
    async reclaim(
      maxRedeliveries: number,
      queues?: readonly string[],
    ): Promise<ReclaimReport> {
      const report = await store.reclaim(maxRedeliveries, queues);
      await tellState(report.changed);
      return report;
    },
    async settle(record: TaskRecord): Promise<boolean> {
      const written = await store.settle(record);
      // Refused: nothing was written, nor published.
      if (written) await tell([task("done", record)]);
      return written;
    },
    async revoke(id: string): Promise<RevokeOutcome> {
      const outcome = await store.revoke(id);
      if (outcome === "revoked") {
        const record = await store.get(id).catch(() => undefined);
        if (record) await tell([task("done", record)]);
      }
      return outcome;
    },
    async setProgress(lease: Lease, progress: TaskProgress): Promise<boolean> {
      const written = await store.setProgress(lease, progress);
      if (written) {
        const record = await store.get(lease.id).catch(() => undefined);
        if (record) await tell([task("progress", record)]);
      }
      return written;
    },
    async saveStep(lease: Lease, step: TaskStep): Promise<boolean> {
      const written = await store.saveStep(lease, step);
      if (written) {
        const record = await store.get(lease.id).catch(() => undefined);
        if (record) await tell([task("progress", record)]);
      }
      return written;
    },
    async pauseQueue(queue: string): Promise<boolean> {
      const paused = await store.pauseQueue(queue);
      if (paused) {
        await tell([{ channel: "queue", event: "paused", data: queue }]);
      }
      return paused;
    },
    async resumeQueue(queue: string): Promise<boolean> {
      const resumed = await store.resumeQueue(queue);
      if (resumed) {
        await tell([{ channel: "queue", event: "resumed", data: queue }]);
      }
      return resumed;
    },
    async publish(message: ChannelMessage): Promise<void> {
      await store.publish(message);
      await tell([message]);
    },
  };
  return storeWith(store, overrides);
}
