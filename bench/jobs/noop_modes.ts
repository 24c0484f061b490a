/** The no-op job in the other execution modes, for `bench/modes.ts`. */
import { Concurrency, job } from "../../mod.ts";

/** Returns its kwargs, from a Web Worker. */
export const noopThread = job(
  { name: "noop.thread", concurrency: Concurrency.THREAD_IO },
  (_ctx, kwargs) => kwargs,
);

/** Returns its kwargs, from a subprocess. */
export const noopProcess = job(
  { name: "noop.process", concurrency: Concurrency.CPUBOUND },
  (_ctx, kwargs) => kwargs,
);
