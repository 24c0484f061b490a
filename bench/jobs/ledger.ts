/**
 * The fault suite's job: sleeps, then appends one line per completion to a
 * ledger file, so that lost and repeated tasks can be counted.
 */
import { job } from "../../mod.ts";

/**
 * Sleeps `lag` s (0.2 by default), then appends `<i> <pid> <unix ms> <task
 * id> <unix ms it began>` to `path` (one short `O_APPEND` write, so lines
 * of concurrent writers never mix).
 */
export const ledger = job(
  { name: "bench.ledger" },
  async (
    ctx,
    { path, i, lag = 0.2 }: { path: string; i: number; lag?: number },
  ) => {
    const began = Date.now();
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(resolve, lag * 1000);
      ctx.signal.addEventListener("abort", () => {
        clearTimeout(timer);
        reject(ctx.signal.reason);
      }, { once: true });
    });
    await Deno.writeTextFile(
      path,
      `${i} ${Deno.pid} ${Date.now()} ${ctx.task.id} ${began}\n`,
      { append: true },
    );
    return i;
  },
);
