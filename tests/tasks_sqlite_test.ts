/** The task suite on the embedded store, with each serializer. */
import { injectSqliteGarbage, NOT_A_TASK } from "./_garbage.ts";
import { tempDir } from "./_server.ts";
import { taskSuite } from "./_task_suite.ts";

for (const serializer of ["json", "msgpack"] as const) {
  Deno.test(`tasks run end to end on the embedded store (${serializer})`, async (t) => {
    await using dir = await tempDir();
    const path = `${dir.path}/pq.sqlite`;
    await taskSuite(t, {
      dataStore: `sqlite:${path}`,
      serializer,
      injectGarbage: (id, queue) =>
        injectSqliteGarbage(path, { id, name: "addition", queue }, NOT_A_TASK),
    });
  });
}
