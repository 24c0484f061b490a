/** The benchmark's handler: an async no-op that returns its input. */
import { job } from "../../mod.ts";

/** Returns its kwargs. */
export const noop = job(async function noop(_ctx, kwargs) {
  await Promise.resolve();
  return kwargs;
});
