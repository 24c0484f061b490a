/**
 * The consumer loop of a worker: claim tasks under leases, run them, renew
 * the leases while they run, record the outcomes in batches. A revoke
 * reaches it on channel `control` (event `revoke`, data: the task id) and
 * stops the task at once; lease renewal also reports revokes, in case that
 * message was lost. A job's progress is written under the task's lease
 * (`setProgress`), rate-limited by the run (see `run_task.ts`). An outcome
 * is written only once the `afterRun` hook (a workflow's continuation), if
 * it has work, has succeeded.
 * @module
 */
import { delay } from "../model/_abort.ts";
import { TaskRevoked } from "../model/errors.ts";
import { getLogger } from "@logtape/logtape";
import { statusString, TaskStatus } from "../model/status.ts";
import { revokedWhileRunning } from "../store/_reasons.ts";
import type { ChannelMessage, Claim, Finish } from "../store/store.ts";
import { type Dict, standInRecord, type TaskRecord } from "../model/task.ts";
import { failedRecord, runTask } from "../run/run_task.ts";
import { storeOutage } from "../runtime/store_outage.ts";
import type { ConsumerOptions } from "./consumer_options.ts";
import { renewLeases, writeOutcomes } from "./lease_calls.ts";

const logger = getLogger(["pq", "consumer"]);

/** The smallest claim worth splitting the slots in two for (measured). */
const MIN_OVERLAP_BATCH = 32;
/** How long a revoke of a task not running here is kept, in ms. */
const EARLY_REVOKE_MS = 60_000;

interface Running {
  claim: Claim;
  controller: AbortController;
}

/**
 * Runs tasks from the store until stopped, or until it claimed `maxRequests`
 * tasks.
 */
export class Consumer {
  readonly #options: ConsumerOptions;
  readonly #now: () => number;
  readonly #running = new Map<string, Running>();
  readonly #pending: Finish[] = [];
  #processed = 0;
  #stopping = false;
  #flushing?: Promise<void>;
  readonly #stopController = new AbortController();
  #wake?: () => void;
  #loop?: Promise<void>;
  #renewTimer?: ReturnType<typeof setTimeout>;
  #lastReclaim = 0;
  /** When running tasks must be released (Infinity: wait for them). */
  #deadline = Infinity;
  #draining?: Promise<void>;
  readonly #released = new Set<string>();
  /** The most tasks one claim asks for. */
  readonly #claimSize: number;
  /** Tasks whose job has not returned yet (their outcome may be unwritten). */
  #executing = 0;
  /** Stops listening to `control` messages. */
  #unsubscribe?: Promise<() => Promise<void>>;
  /**
   * Revokes of tasks that were not running here when they came, by when:
   * a task already claimed for this worker (handed over, or its claim's
   * reply on its way) whose revoke came first is stopped as it begins.
   */
  readonly #revokedBefore = new Map<string, number>();

  /** Makes a consumer; `start()` runs it. */
  constructor(options: ConsumerOptions) {
    this.#options = options;
    // With many slots, claim half at a time so that one batch runs while the
    // next is on its way; with few, the round trip saved is worth more.
    const half = Math.ceil(options.concurrentTasks / 2);
    this.#claimSize = half >= MIN_OVERLAP_BATCH
      ? half
      : options.concurrentTasks;
    this.#now = options.now ?? (() => Date.now() / 1000);
  }

  /** Tasks claimed so far. */
  get processed(): number {
    return this.#processed;
  }

  /** How many tasks run here now (claimed, not yet recorded). */
  get runningTasks(): number {
    return this.#running.size;
  }

  /** What the consumer is doing, as pulsar-queue's `tasks.info()`. */
  info(): Dict {
    return {
      maxConcurrentTasks: this.#options.concurrentTasks,
      concurrentTasks: [...this.#running.keys()],
      processed: this.#processed,
      queues: [...this.#options.queues],
    };
  }

  /** Starts claiming; resolves when the loop ends (stopped or max requests). */
  start(): Promise<void> {
    this.#loop ??= this.#run();
    return this.#loop;
  }

  /**
   * Stops claiming, lets running tasks finish for `graceSeconds`, then stops
   * the rest and gives them back to their queue to run again elsewhere.
   */
  async stop(graceSeconds: number): Promise<void> {
    this.#stopping = true;
    this.#deadline = Math.min(this.#deadline, Date.now() + graceSeconds * 1000);
    this.#stopController.abort();
    this.#wake?.();
    await this.#loop;
    await this.#drain();
  }

  async #run(): Promise<void> {
    const { concurrentTasks, maxRequests } = this.#options;
    this.#scheduleRenew();
    // Listening before the first claim: no revoke of a task of ours is missed.
    this.#unsubscribe = this.#options.store.subscribe(
      "control",
      (message) => this.#onControl(message),
    );
    await this.#unsubscribe.catch((error) => {
      if (storeOutage.failed(error, "cannot listen to revokes")) return;
      logger.error(
        "Cannot listen to revokes; they arrive with lease renewals: {error}",
        { error },
      );
    });
    try {
      while (!this.#stopping) {
        await this.#maybeReclaim();
        if (maxRequests > 0 && this.#processed >= maxRequests) {
          logger.info(
            `Processed {n} ${
              this.#processed === 1 ? "task" : "tasks"
            }: stop claiming`,
            { n: this.#processed },
          );
          break;
        }
        // Checked once a task ran, so a process that starts over the limit
        // still makes progress (as Celery's max_memory_per_child).
        const memory = this.#processed > 0 ? this.#memoryMiB() : undefined;
        if (memory !== undefined) {
          logger.warn(
            "Memory {memory} MiB is over maxMemory {max} MiB: stop claiming, to be replaced",
            { memory, max: this.#options.maxMemory },
          );
          break;
        }
        // A task whose job has returned frees its slot at once: the next
        // claim goes out with its outcome (one round trip for both).
        let free = concurrentTasks - this.#executing;
        if (maxRequests > 0) {
          free = Math.min(free, maxRequests - this.#processed);
        }
        if (free <= 0) {
          await this.#sleep(this.#options.taskPoolTimeout, false);
          continue;
        }
        const claims = await this.#claim(Math.min(free, this.#claimSize));
        for (const claim of claims) this.#begin(claim);
        if (claims.length === 0) {
          // Tasks a store hands over while this waits are ours to run. An
          // expired lease wakes no one: the wait ends by the next periodic
          // reclaim, so a task whose claim reply was lost (a store that
          // crashed) runs again within a lease and a half, not a wait.
          const handed = await this.#sleep(
            Math.min(this.#options.taskPoolTimeout, this.#untilReclaim()),
            true,
          );
          for (const claim of handed) this.#begin(claim);
        }
      }
    } finally {
      this.#stopping = true;
    }
    await this.#drain();
  }

  /** The resident memory in MiB when it is over `maxMemory`, else undefined. */
  #memoryMiB(): number | undefined {
    const max = this.#options.maxMemory ?? 0;
    if (max <= 0) return undefined;
    const rss = Math.round(Deno.memoryUsage().rss / 2 ** 20);
    return rss > max ? rss : undefined;
  }

  /** A revoke published on channel `control` stops the task if it runs here. */
  #onControl(message: ChannelMessage): void {
    if (message.event !== "revoke" || typeof message.data !== "string") return;
    const running = this.#running.get(message.data);
    if (!running) return this.#keepRevoke(message.data);
    if (running.controller.signal.aborted) return;
    logger.debug("Task {id} revoked: stopping it", { id: message.data });
    running.controller.abort(
      new TaskRevoked(revokedWhileRunning(message.data)),
    );
  }

  /** Keeps a revoke for a task that may begin here soon; forgets old ones. */
  #keepRevoke(id: string): void {
    const now = Date.now();
    this.#revokedBefore.set(id, now);
    if (this.#revokedBefore.size < 1000) return;
    for (const [old, at] of this.#revokedBefore) {
      if (now - at < EARLY_REVOKE_MS && this.#revokedBefore.size < 10_000) {
        break;
      }
      this.#revokedBefore.delete(old);
    }
  }

  async #claim(max: number): Promise<Claim[]> {
    const since = Date.now();
    try {
      const claims = await this.#options.store.claim({
        queues: this.#options.queues,
        max,
        worker: this.#options.worker,
        node: this.#options.node,
        leaseSeconds: this.#options.leaseTimeout,
        waitSeconds: this.#options.taskPoolTimeout,
      });
      storeOutage.succeeded();
      return claims;
    } catch (error) {
      // A store that is away: one line per outage, not one a second.
      if (!storeOutage.failed(error, "cannot claim tasks", since)) {
        logger.error("Cannot claim tasks: {error}", { error });
      }
      await this.#sleep(1, false);
      return [];
    }
  }

  /**
   * Waits for a freed slot, or for tasks in the store, or `seconds`;
   * resolves with the tasks the store handed over meanwhile.
   */
  async #sleep(seconds: number, forTasks: boolean): Promise<Claim[]> {
    const woken = new Promise<void>((resolve) => this.#wake = resolve);
    let handed: Claim[] = [];
    if (forTasks) {
      const done = new AbortController();
      const signal = AbortSignal.any([
        this.#stopController.signal,
        done.signal,
      ]);
      const since = Date.now();
      const waiting = this.#options.store
        .waitForTasks(this.#options.queues, seconds, signal)
        .catch((error): Claim[] => {
          if (!storeOutage.failed(error, "cannot wait for tasks", since)) {
            logger.error("Cannot wait for tasks: {error}", { error });
          }
          return [];
        });
      await Promise.race([woken, waiting]);
      done.abort();
      // A wait ends soon after its signal; what it hands over is ours.
      handed = await waiting;
    } else {
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        woken,
        new Promise<void>((resolve) =>
          timer = setTimeout(resolve, seconds * 1000)
        ),
      ]);
      clearTimeout(timer);
    }
    this.#wake = undefined;
    return handed;
  }

  /**
   * Gives back now the tasks of `queues` whose leases ended: a dead
   * worker's, found by a beat.
   */
  reclaimNow(queues: readonly string[]): void {
    this.#reclaim(queues);
  }

  /**
   * The periodic reclaim, every half lease: the last line of defence
   * (a dead worker's tasks come back at once through the beats) and the
   * retention of finished tasks.
   */
  /** Seconds until the next periodic reclaim is due (at least 50 ms). */
  #untilReclaim(): number {
    const due = this.#lastReclaim + this.#options.leaseTimeout / 2;
    return Math.max(0.05, due - this.#now());
  }

  async #maybeReclaim(): Promise<void> {
    const now = this.#now();
    if (now - this.#lastReclaim < this.#options.leaseTimeout / 2) return;
    this.#lastReclaim = now;
    await this.#reclaim(this.#options.queues);
  }

  async #reclaim(queues: readonly string[]): Promise<void> {
    const since = Date.now();
    try {
      const report = await this.#options.store.reclaim(
        this.#options.maxRedeliveries,
        queues,
      );
      storeOutage.succeeded();
      if (report.redelivered || report.failed) {
        logger.warn(
          `Expired leases: {redelivered} ${
            report.redelivered === 1 ? "task" : "tasks"
          } queued again, {failed} failed`,
          { ...report },
        );
      }
      if (report.changed.length > report.redelivered) {
        await this.#options.afterReclaim?.(report.changed);
      }
    } catch (error) {
      if (!storeOutage.failed(error, "cannot reclaim expired leases", since)) {
        logger.error("Cannot reclaim expired leases: {error}", { error });
      }
    }
  }

  #begin(claim: Claim): void {
    this.#processed++;
    this.#executing++;
    const controller = new AbortController();
    if (this.#revokedBefore.delete(claim.id)) {
      controller.abort(new TaskRevoked(revokedWhileRunning(claim.id)));
    }
    this.#running.set(claim.id, { claim, controller });
    this.#options.onChange?.();
    this.#execute(claim, controller.signal).then(
      (finish) => {
        this.#executing--;
        this.#record(finish);
        this.#wake?.();
      },
      (error) => {
        this.#executing--;
        // runTask never throws: an `afterRun` that failed (the store away),
        // or a bug. The outcome is not written; the lease, no longer
        // renewed, expires and the task runs again.
        const what = `task ${claim.id} is not recorded; it runs again`;
        if (!storeOutage.failed(error, what)) {
          logger.error("Task {id} is not recorded; it runs again: {error}", {
            id: claim.id,
            error,
          });
        }
        this.#running.delete(claim.id);
      },
    );
  }

  async #execute(claim: Claim, signal: AbortSignal): Promise<Finish> {
    const lease = { id: claim.id, token: claim.token };
    if (!claim.task) {
      const reason = claim.malformed ?? "Malformed task record";
      logger.error("Task {id} is malformed: {reason}", {
        id: claim.id,
        reason,
      });
      return {
        ...lease,
        task: failedRecord(
          standInRecord(claim, this.#now()),
          reason,
          this.#now(),
        ),
      };
    }
    const job = this.#options.registry.get(claim.task.name);
    const { store } = this.#options;
    let lost = false;
    const outcome = await runTask(claim.task, job, {
      backend: this.#options.backend,
      now: this.#now,
      signal,
      threads: this.#options.threads,
      settings: this.#options.settings,
      progress: async (progress) => {
        // A lost lease stops the task at the next renewal: until then its
        // progress is not written anywhere.
        if (lost) return;
        lost = !(await store.setProgress(lease, progress));
        if (lost) {
          logger.debug("Lease of task {id} was lost: progress not written", {
            id: claim.id,
          });
        }
      },
      // A durable step (`ctx.step`) is stored under the lease; a lost lease
      // stops the job (its `ctx.step` throws).
      saveStep: (step) => store.saveStep(lease, step),
    });
    logOutcome(outcome.task);
    const finish: Finish = { ...lease, ...outcome };
    const after = this.#options.afterRun?.(finish);
    if (after) await after;
    return finish;
  }

  #record(finish: Finish): void {
    // A released task is back in its queue: its outcome here does not count.
    if (this.#released.delete(finish.id)) return;
    this.#pending.push(finish);
    this.#flushing ??= this.#flush();
  }

  /** Writes every pending outcome in one store call, then frees their slots. */
  async #flush(): Promise<void> {
    // Let the tasks that end in the same turn of the event loop join the
    // batch (a timer would cost a millisecond a batch).
    await Promise.resolve();
    while (this.#pending.length > 0) {
      const batch = this.#pending.splice(0);
      await writeOutcomes(
        this.#options.store,
        batch,
        this.#options.leaseTimeout,
        this.#options.onRecorded,
      );
      for (const finish of batch) this.#running.delete(finish.id);
      this.#options.onChange?.();
      this.#wake?.();
    }
    this.#flushing = undefined;
  }

  #scheduleRenew(): void {
    const every = this.#options.leaseTimeout / 3;
    this.#renewTimer = setTimeout(async () => {
      await renewLeases(
        this.#options.store,
        this.#running,
        this.#options.leaseTimeout,
      );
      if (this.#draining === undefined) this.#scheduleRenew();
    }, every * 1000);
  }

  /**
   * Waits for running tasks until the deadline, then gives the rest back to
   * their queue before stopping them, so that they run again elsewhere.
   */
  #drain(): Promise<void> {
    this.#draining ??= (async () => {
      while (this.#running.size > 0 && Date.now() < this.#deadline) {
        await delay(20);
      }
      await this.#flushing;
      const left = [...this.#running.values()];
      if (left.length > 0) {
        logger.warn(
          `Releasing {n} unfinished ${
            left.length === 1 ? "task" : "tasks"
          } to run elsewhere`,
          { n: left.length },
        );
        try {
          await this.#options.store.release(
            left.map(({ claim }) => ({ id: claim.id, token: claim.token })),
          );
        } catch (error) {
          logger.error(
            "Cannot release tasks; they run again when their lease expires: {error}",
            { error },
          );
        }
        for (const { claim, controller } of left) {
          this.#running.delete(claim.id);
          this.#released.add(claim.id);
          controller.abort(new TaskRevoked("Worker shutting down"));
        }
      }
      await this.#flushing;
      clearTimeout(this.#renewTimer);
      this.#renewTimer = undefined;
      const unsubscribe = await this.#unsubscribe?.catch(() => undefined);
      await unsubscribe?.().catch(() => undefined);
    })();
    return this.#draining;
  }
}

function logOutcome(task: TaskRecord): void {
  const text = `task.${task.name}<${task.id}>`;
  if (task.status === TaskStatus.SUCCESS) {
    logger.debug("{task} SUCCESS", { task: text });
  } else {
    logger.warn("{task} ended {status}: {result}", {
      task: text,
      status: statusString(task.status),
      result: task.result,
    });
  }
}
