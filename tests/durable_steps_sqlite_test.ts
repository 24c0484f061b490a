/** Durable steps against real servers on the embedded store. */
import { tempDir } from "./_server.ts";
import { durableStepsSuite } from "./_durable_steps_suite.ts";

Deno.test("durable steps run once across retries and a killed worker on the embedded store", async (t) => {
  await using dir = await tempDir();
  await durableStepsSuite(t, `sqlite:${dir.path}/pq.sqlite`);
});
