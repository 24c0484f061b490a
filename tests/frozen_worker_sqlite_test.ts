/** A frozen worker process on the embedded store. */
import { tempDir } from "./_server.ts";
import { frozenWorkerSuite } from "./_frozen_suite.ts";

Deno.test("a frozen worker process's tasks run elsewhere on the embedded store; resumed, it changes no result", async () => {
  await using dir = await tempDir();
  await frozenWorkerSuite(`sqlite:${dir.path}/pq.sqlite`);
});
