/**
 * pulsar-queue's fixture jobs (tests/example/jobs/standard.py), in pq. Each
 * has a schema, so a producer that loads this module refuses a mistyped
 * argument (`aa=4`) before anything is queued.
 * @module
 */
import { z } from "zod";
import { Job, job } from "../../mod.ts";

/** No arguments at all. */
const noKwargs = z.strictObject({});

/** `lag`: seconds to sleep. */
const lagKwargs = z.strictObject({ lag: z.number().nonnegative().optional() });

/** Adds two numbers. */
export class Addition extends Job {
  static override timeout = 60;
  static override doc = "Adds `a` and `b`.";
  static override schema = z.strictObject({
    a: z.number().optional(),
    b: z.number().optional(),
  });
  override run({ a = 0, b = 0 }: { a?: number; b?: number }): number {
    return a + b;
  }
}

/**
 * Subtracts two numbers; a non-number fails with a TypeError thrown by the
 * job itself (pulsar-queue's test of a failing task), so its schema checks
 * the names of the arguments, not their types.
 */
export const subtraction = job(
  {
    name: "subtraction",
    schema: z.strictObject({
      a: z.unknown().optional(),
      b: z.unknown().optional(),
    }),
  },
  function subtraction(_ctx, { a = 0, b = 0 }: { a?: unknown; b?: unknown }) {
    if (typeof a !== "number" || typeof b !== "number") {
      throw new TypeError(
        `unsupported operand types for -: ${typeof a} and ${typeof b}`,
      );
    }
    return a - b;
  },
);

/** Sleeps `lag` seconds (stopped early on timeout) and returns the seconds slept. */
export class Asynchronous extends Job {
  static override schema = lagKwargs;
  override async run({ lag = 1 }: { lag?: number }): Promise<number> {
    const start = performance.now();
    try {
      await sleep(lag, this.signal);
    } catch (error) {
      this.task.runInfo.cancelled = true;
      throw error;
    }
    return (performance.now() - start) / 1000;
  }
}

/** At most 3 run at once in the whole cluster. */
export const maxconcurrency = job(
  { name: "maxconcurrency", maxConcurrency: 3, schema: lagKwargs },
  async (ctx, { lag = 1 }: { lag?: number }) => {
    const start = performance.now();
    await sleep(lag, ctx.signal);
    return (performance.now() - start) / 1000;
  },
);

/** Queues `asynchronous` and returns that task, whose fromTask is this one. */
export const queue_from_task = job(
  { name: "queue_from_task", schema: noKwargs },
  async function queue_from_task(ctx) {
    const task = await ctx.queue("asynchronous", { lag: 0.1 });
    return task.toJSON();
  },
);

/** What the worker running it is doing. */
export class WorkerInfo extends Job {
  static override schema = noKwargs;
  override run(): unknown {
    return this.backend.info();
  }
}

/** The queues of the server that runs it. */
export const testlocalqueue = job(
  { name: "testlocalqueue", schema: noKwargs },
  function testlocalqueue(ctx) {
    return (ctx.backend.info().tasks as { queues: string[] }).queues;
  },
);

/** Always fails with `msg`. */
export class TestPeriodicError extends Job {
  static override runEvery = 60;
  static override schema = z.strictObject({ msg: z.string().optional() });
  override run({ msg = "kaputt" }: { msg?: string }): never {
    throw new Error(msg);
  }
}

/** Returns this worker's process id, sleeping `lag` seconds first. */
export const workerpid = job(
  { name: "workerpid", schema: lagKwargs },
  async function workerpid(ctx, { lag = 0 }: { lag?: number }) {
    await sleep(lag, ctx.signal);
    return Deno.pid;
  },
);

function sleep(seconds: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, seconds * 1000);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    signal.addEventListener("abort", onAbort, { once: true });
  });
}
