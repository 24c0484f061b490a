/**
 * A warning when no live worker consumes the queue of an awaited task: a
 * typo in a queue or store name would otherwise wait for ever, in silence.
 *
 * Checked {@linkcode UNCONSUMED_CHECK_SECONDS} after the wait began (a
 * server starting at the same time has beaten by then), for the tasks still
 * awaited then, all at once; one check runs at a time.
 * @module
 */
import { getLogger } from "@logtape/logtape";
import type { WorkerStatus } from "../model/worker_status.ts";
import type { TaskRecord } from "../model/task.ts";

const logger = getLogger(["pq", "producer"]);

/** Seconds after a wait begins before its queue is checked for consumers. */
const UNCONSUMED_CHECK_SECONDS = 2;

/** What the check asks of its producer. */
export interface UnconsumedQueuesHost {
  /** True while the task of `id` is awaited. */
  awaited(id: string): boolean;
  /** The live workers. */
  workers(): Promise<WorkerStatus[]>;
  /** The store's URL (without secrets), for the message. */
  storeUrl(): string;
}

/** Warns of awaited tasks whose queue no live worker consumes. */
export class UnconsumedQueues {
  readonly #host: UnconsumedQueuesHost;
  readonly #pending: TaskRecord[] = [];
  #timer?: ReturnType<typeof setTimeout>;
  #closed = false;

  /** Made by the producer. */
  constructor(host: UnconsumedQueuesHost) {
    this.#host = host;
  }

  /** Checks the queue of this awaited task in a moment. */
  add(record: TaskRecord): void {
    if (record.queue === null || this.#closed) return;
    this.#pending.push(record);
    this.#timer ??= setTimeout(
      () => this.#check(),
      UNCONSUMED_CHECK_SECONDS * 1000,
    );
  }

  /** Stops checking. */
  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
  }

  async #check(): Promise<void> {
    const records = this.#pending.splice(0);
    try {
      const awaited = records.filter((r) => this.#host.awaited(r.id));
      if (awaited.length === 0 || this.#closed) return;
      const live = await this.#host.workers();
      const consumed = [...new Set(live.flatMap((worker) => worker.queues))];
      for (const record of awaited) {
        if (consumed.includes(record.queue!)) continue;
        logger.warn(
          "No live worker consumes queue {queue}: task {task} waits until one does ({consumed})",
          {
            queue: record.queue,
            task: `${record.name}<${record.id}>`,
            consumed: consumed.length
              ? `queues consumed now: ${consumed.join(", ")}`
              : `no live worker on store ${this.#host.storeUrl()}`,
          },
        );
      }
    } catch {
      // A store that cannot answer now: the wait itself goes on.
    } finally {
      this.#timer = undefined;
      if (this.#pending.length > 0) this.add(this.#pending.pop()!);
    }
  }
}
