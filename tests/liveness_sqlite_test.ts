/** Liveness on the embedded store. */
import { tempDir } from "./_server.ts";
import { livenessSuite } from "./_liveness_suite.ts";

Deno.test("killed servers and blocked event loops on the embedded store", async (t) => {
  await using dir = await tempDir();
  await livenessSuite(t, `sqlite:${dir.path}/pq.sqlite`);
});
