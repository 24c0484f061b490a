/** The execution modes on the embedded store. */
import { tempDir } from "./_server.ts";
import { modesSuite } from "./_modes_suite.ts";

Deno.test("every execution mode runs and stops tasks on the embedded store", async (t) => {
  await using dir = await tempDir();
  await modesSuite(t, `sqlite:${dir.path}/pq.sqlite`);
});
