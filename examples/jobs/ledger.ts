/**
 * A job that records each run in a file, to count how often every task ran.
 * @module
 */
import { job } from "../../mod.ts";

/** Appends this task's id to the file `path`, then returns `i`. */
export const ledger = job(
  async function ledger(ctx, { path, i = 0 }: { path?: string; i?: number }) {
    if (typeof path !== "string") throw new TypeError("ledger needs a path");
    await Deno.writeTextFile(path, ctx.task.id + "\n", { append: true });
    return i;
  },
);
