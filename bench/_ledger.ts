/**
 * The ledger of completed tasks that the fault suite (bench/faults.ts) and
 * the failover tests (tests/redis_failover_test.ts) count with: tasks of
 * the job `bench.ledger` (bench/jobs/ledger.ts) each append one line when
 * they end, `<index> <pid> <unix ms> <task id> <unix ms it began>`, to a
 * file of their own run; reading it back says which indexes never
 * completed (lost), which completed more than once (run twice), and when
 * each completed.
 * @module
 */
import type { Producer } from "../src/producer/producer.ts";

/** The module of the ledger job, for `taskPaths`. */
export const LEDGER_JOBS =
  new URL("./jobs/ledger.ts", import.meta.url).pathname;

/** The name of the ledger job. */
export const LEDGER_JOB = "bench.ledger";

/** Tasks queued in one call (`queueMany`). */
const BATCH = 500;

/** One line of a ledger: a task that completed. */
export interface Completion {
  /** The task's index. */
  i: number;
  /** The process that ran it. */
  pid: number;
  /** When it completed (Unix ms). */
  ms: number;
  /** The task's id. */
  id: string;
  /** When its job began (Unix ms; `ms` in a ledger of an older job). */
  began: number;
}

/** An index completed more than once. */
export interface Duplicate {
  i: number;
  runs: Array<{ pid: number; ms: number; id: string }>;
  /** Kill of the first run's process minus the first run's completion. */
  killedAfterMs?: number;
}

/** How {@linkcode Ledger.queue} queues its tasks. */
export interface LedgerQueueOptions {
  /** Seconds each task sleeps before it writes its line (the job's 0.2). */
  lag?: number;
  /**
   * Queues the tasks are spread over, task i to `queues[i % length]` (the
   * job's queue when none is given).
   */
  queues?: readonly string[];
}

/** A ledger file in `dir`, and the tasks queued to write to it. */
export class Ledger {
  /** The file the tasks append to. */
  readonly path: string;
  /** The queues the tasks were spread over (empty: the job's). */
  #queues: readonly string[] = [];

  /** The ledger `<dir>/<name>.ledger` (made by the first completion). */
  constructor(dir: string, name: string) {
    this.path = `${dir}/${name}.ledger`;
  }

  /** Every completion so far, in the order written. */
  async read(): Promise<Completion[]> {
    const text = await Deno.readTextFile(this.path).catch(() => "");
    return text.split("\n").filter(Boolean).map((line) => {
      const [i, pid, ms, id, began] = line.split(" ");
      return {
        i: Number(i),
        pid: Number(pid),
        ms: Number(ms),
        id,
        began: Number(began ?? ms),
      };
    });
  }

  /** Distinct indexes completed so far. */
  async count(): Promise<number> {
    return new Set((await this.read()).map(({ i }) => i)).size;
  }

  /**
   * Queues tasks 0..n-1, `BATCH` a call, spread over `options.queues` (a
   * batch to each queue in turn, so that they fill together).
   */
  async queue(
    api: Producer,
    n: number,
    options: LedgerQueueOptions = {},
  ): Promise<void> {
    this.#queues = options.queues ?? [];
    const lanes = this.#queues.length || 1;
    const lag = options.lag === undefined ? {} : { lag: options.lag };
    for (let at = 0; at < n; at += BATCH * lanes) {
      for (let lane = 0; lane < lanes; lane++) {
        const kwargs: Array<Record<string, unknown>> = [];
        for (
          let i = at + lane;
          i < Math.min(n, at + BATCH * lanes);
          i += lanes
        ) {
          kwargs.push({ path: this.path, i, ...lag });
        }
        if (kwargs.length === 0) continue;
        const queue = this.#queues[lane];
        await api.tasks.queueMany(
          LEDGER_JOB,
          kwargs,
          queue === undefined ? {} : { queue },
        );
      }
    }
  }

  /** The queue task `i` was queued on (undefined: the job's). */
  queueOf(i: number): string | undefined {
    return this.#queues.length
      ? this.#queues[i % this.#queues.length]
      : undefined;
  }

  /** Waits until `n` distinct indexes are in the ledger, or `seconds`. */
  async drained(n: number, seconds: number): Promise<boolean> {
    const deadline = Date.now() + seconds * 1000;
    while (Date.now() < deadline) {
      if (await this.count() >= n) return true;
      await new Promise((ok) => setTimeout(ok, 100));
    }
    return await this.count() >= n;
  }

  /**
   * Indexes of 0..n-1 never completed, and those completed more than once
   * (with the kill of the first run's process, when `killed` knows it).
   */
  async tally(
    n: number,
    killed = new Map<number, number>(),
  ): Promise<{ lost: number[]; twice: Duplicate[] }> {
    const runs = new Map<number, Completion[]>();
    for (const c of await this.read()) {
      runs.set(c.i, [...(runs.get(c.i) ?? []), c]);
    }
    const lost: number[] = [];
    const twice: Duplicate[] = [];
    for (let i = 0; i < n; i++) {
      const list = (runs.get(i) ?? []).sort((a, b) => a.ms - b.ms);
      if (list.length === 0) lost.push(i);
      if (list.length < 2) continue;
      const killedAt = killed.get(list[0].pid);
      twice.push({
        i,
        runs: list.map(({ pid, ms, id }) => ({ pid, ms, id })),
        killedAfterMs: killedAt === undefined
          ? undefined
          : killedAt - list[0].ms,
      });
    }
    return { lost, twice };
  }
}

/** Longest span between consecutive completions, and where it lies. */
export function longestGap(times: number[]): { ms: number; from: number } {
  const sorted = [...times].sort((a, b) => a - b);
  let best = { ms: 0, from: sorted[0] ?? 0 };
  for (let k = 1; k < sorted.length; k++) {
    const ms = sorted[k] - sorted[k - 1];
    if (ms > best.ms) best = { ms, from: sorted[k - 1] };
  }
  return best;
}

/**
 * When the first task whose job began at `at` or later completed (a job
 * already running at `at` needs no store to write its line), or undefined.
 */
export function firstCompletionAfter(
  completions: readonly Completion[],
  at: number,
): number | undefined {
  let first: number | undefined;
  for (const { began, ms } of completions) {
    if (began >= at && (first === undefined || ms < first)) first = ms;
  }
  return first;
}
