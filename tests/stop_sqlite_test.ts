/** Stopping tasks for good on the embedded store. */
import { tempDir } from "./_server.ts";
import { stopSuite } from "./_stop_suite.ts";

Deno.test("revokes, stuck Web Workers and maxMemory on the embedded store", async (t) => {
  await using dir = await tempDir();
  await stopSuite(t, `sqlite:${dir.path}/pq.sqlite`);
});
