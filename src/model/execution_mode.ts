/**
 * Execution modes: how a job runs (pulsar-queue's codes and names).
 * @module
 */

/**
 * How a job runs (pulsar-queue's codes).
 *
 * @example
 * ```ts
 * import { Concurrency, job } from "@pq/queue";
 * export const hello = job(
 *   { name: "hello", concurrency: Concurrency.ASYNC_IO },
 *   () => "hello",
 * );
 * ```
 */
export const Concurrency = {
  /** On the worker's event loop (the default). */
  ASYNC_IO: 1,
  /** In a Web Worker of the worker process. */
  THREAD_IO: 3,
  /** In a `Deno.Command` subprocess. */
  CPUBOUND: 4,
} as const;

/**
 * One of the codes of {@linkcode Concurrency}.
 *
 * @example
 * ```ts
 * import { Concurrency, type ConcurrencyCode } from "@pq/queue";
 * const mode: ConcurrencyCode = Concurrency.THREAD_IO;
 * ```
 */
export type ConcurrencyCode = typeof Concurrency[keyof typeof Concurrency];

/** An execution mode's name, as the README and `pq jobs` write it. */
export type ModeName = "ASYNC_IO" | "THREAD_IO" | "CPUBOUND";

/** The name of a mode's code: `modeName(Concurrency.CPUBOUND)` is `CPUBOUND`. */
export function modeName(code: ConcurrencyCode): ModeName {
  const entry = Object.entries(Concurrency).find(([, value]) => value === code);
  return (entry?.[0] ?? "ASYNC_IO") as ModeName;
}

/**
 * pulsar-queue's label of each mode, kept for the `concurrency` field of
 * `jobList` only: pq's own name of a mode is its {@linkcode ModeName}.
 */
export const PULSAR_MODE_LABELS: Readonly<Record<ConcurrencyCode, string>> = {
  1: "asyncio",
  3: "thread",
  4: "process",
};
