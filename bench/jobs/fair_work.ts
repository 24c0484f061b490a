/** The fairness benchmark's handler (bench/fairness.ts): waits `ms`. */
import { job } from "../../mod.ts";

/** Waits `ms` milliseconds (0: a no-op), then returns its tenant. */
export const fairWork = job(
  { name: "fair.work" },
  async (_ctx, { tenant, ms = 0 }: { tenant: string; ms?: number }) => {
    if (ms > 0) await new Promise((done) => setTimeout(done, ms));
    return tenant;
  },
);
