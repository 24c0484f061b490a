/**
 * pulsar-queue's fixture jobs of the other execution modes, in pq:
 * THREAD_IO runs in a Web Worker, CPUBOUND in a subprocess.
 * @module
 */
import { Concurrency, Job, job } from "../../mod.ts";

/** Reads a text file in a Web Worker; says which thread read it. */
export const readText = job(
  { name: "read.text", concurrency: Concurrency.THREAD_IO },
  (_ctx, { input }: { input: string }) => ({
    // A Web Worker has a name (pq-thread-<n>); the main thread has none.
    thread: (globalThis as { name?: string }).name || "main",
    text: Deno.readTextFileSync(input),
  }),
);

/** An error of the test jobs. */
class TestError extends Error {
  override name = "TestError";
}

/** Logs, sleeps 1 s in a subprocess, and returns `["OK", 2]`. */
export class CpuBound extends Job {
  static override concurrency = Concurrency.CPUBOUND;
  override async run({ error = false }: { error?: boolean }) {
    this.logger.info("Testing info log in process {pid}", { pid: Deno.pid });
    this.logger.warn("Testing warning log");
    await new Promise((resolve) => setTimeout(resolve, 1000));
    if (error) throw new TestError("just a test");
    return ["OK", 2];
  }
}

/** Logs 1024 debug lines of 1024 `*` from a subprocess (about 1 MB). */
export class CpuBoundBigLog extends Job {
  static override concurrency = Concurrency.CPUBOUND;
  override run(): number {
    const line = "*".repeat(1024);
    for (let i = 0; i < 1024; i++) this.logger.debug(line);
    return 1024;
  }
}

/** Holds the job's lock while it sleeps: runs never overlap. */
export const notoverlap = job(
  async function notoverlap(ctx, { lag = 1 }: { lag?: number }) {
    await using _lock = await ctx.lock();
    const start = Date.now() / 1000;
    await new Promise((resolve) => setTimeout(resolve, lag * 1000));
    return { start, end: Date.now() / 1000 };
  },
);
