/** The task suite on the embedded store, with each serializer. */
import { DatabaseSync } from "node:sqlite";
import { tempDir } from "./_server.ts";
import { taskSuite } from "./_task_suite.ts";

for (const serializer of ["json", "msgpack"] as const) {
  Deno.test(`tasks run end to end on the embedded store (${serializer})`, async (t) => {
    await using dir = await tempDir();
    const path = `${dir.path}/pq.sqlite`;
    await taskSuite(t, {
      dataStore: `sqlite:${path}`,
      serializer,
      injectGarbage(id, queue) {
        const db = new DatabaseSync(path);
        try {
          db.exec("PRAGMA busy_timeout = 5000");
          db.prepare(
            `INSERT INTO tasks (id, name, queue, state, due_at, seq, payload)
             VALUES (?, 'addition', ?, 'queued', 0,
             (SELECT coalesce(max(seq), 0) + 1 FROM tasks), ?)`,
          ).run(id, queue, new TextEncoder().encode("{not a task"));
        } finally {
          db.close();
        }
        return Promise.resolve();
      },
    });
  });
}
