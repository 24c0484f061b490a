/**
 * The quick start: queue `addition` on the server that
 * `deno run -A cli.ts --workers 2` runs (same folder, same store), and print
 * the result.
 *
 *   deno run -A examples/quickstart.ts            # 4 + 6
 *   deno run -A examples/quickstart.ts 40 50      # 40 + 50
 */
import { PulsarQueue } from "../mod.ts";

const [a = 4, b = 6] = Deno.args.map(Number);
const app = new PulsarQueue({ taskPaths: ["./examples/jobs/"] });
await using api = await app.api().start();

const task = await api.tasks.queue("addition", { a, b });
console.log(task.result, task.statusString, String(task));

// Queued without waiting, with a delay: resolves once queued.
const later = await api.tasks.queue("addition", { a, b }, {
  callback: false,
  delay: 2,
});
console.log(later.statusString); // QUEUED
const done = await later.doneCallback!;
console.log(
  done.statusString,
  `started ${(done.timeStarted! - done.timeQueued).toFixed(2)} s after queued`,
);
