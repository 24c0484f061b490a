/**
 * The reads and queue actions of the producer API that the dashboard uses
 * instead of the store: `api.tasks.search` and `jobStats`, and
 * `api.queues.stats`, `purge` and `storeUrl`, on a SQLite store.
 */
import assert from "node:assert/strict";
import { TaskStatus } from "../mod.ts";
import { producerFor, tempDir } from "./_server.ts";

Deno.test("api.tasks.search and jobStats, api.queues.stats, purge and storeUrl", async () => {
  await using dir = await tempDir();
  await using api = await producerFor({
    dataStore: `sqlite:${dir.path}/pq.sqlite`,
  });
  // Two tasks waiting in "parked", one in "later".
  const parked = await Promise.all(
    [1, 2].map((a) =>
      api.tasks.queue("addition", { a }, {
        callback: false,
        queue: "parked",
        delay: 600,
      })
    ),
  );
  await api.tasks.queue("addition", { a: 3 }, {
    callback: false,
    queue: "later",
    delay: 600,
  });

  // Page by page: each task once (newest first: queued together, in any order).
  const page = await api.tasks.search({ queue: "parked", limit: 1 });
  assert.equal(page.tasks.length, 1);
  assert.ok(page.next);
  const rest = await api.tasks.search({ queue: "parked", cursor: page.next });
  assert.deepEqual(
    [...page.tasks, ...rest.tasks].map((t) => t.id).sort(),
    parked.map((t) => t.id).sort(),
  );
  assert.equal(rest.next, undefined);
  await assert.rejects(
    () => api.tasks.search({ nope: 1 } as never),
    /Unknown task query field 'nope'/,
  );

  const stats = await api.tasks.jobStats({ jobs: ["addition", "none"] });
  assert.deepEqual(stats.get("addition")?.counts, { QUEUED: 3 });
  assert.deepEqual(stats.get("addition")?.p50, null);
  assert.deepEqual(stats.get("none")?.tasks, 0);
  await assert.rejects(() => api.tasks.jobStats({ runs: 0 }), RangeError);

  const [before] = await api.queues.stats(["parked"]);
  assert.deepEqual([before.queue, before.delayed], ["parked", 2]);
  await assert.rejects(() => api.queues.stats([""]), TypeError);
  assert.equal(await api.queues.purge(["parked"]), 2);
  await assert.rejects(
    () => api.queues.purge("parked" as never),
    /'queues' must be a list of names/,
  );
  const after = await api.queues.stats(["parked", "later"]);
  assert.deepEqual(after.map((q) => q.delayed), [0, 1]);
  assert.equal(
    (await api.tasks.get(parked[0].id))?.status,
    undefined,
    "a purged task is gone",
  );
  assert.match(await api.queues.storeUrl(), /^sqlite:/);
  assert.equal(TaskStatus.QUEUED, 6);
});
