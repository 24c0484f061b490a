/**
 * An hour of work played into a SQLite store before the docs' screenshots
 * are taken, so the overview chart shows a history as a server running for
 * an hour has one. The tasks are queued, claimed and ended through the
 * store's own operations, on a clock set back minute by minute: the store
 * counts them as it counts any task.
 */
import { SqliteStore } from "../src/store/sqlite/sqlite_store.ts";
import { TaskStatus, type TaskStatusCode } from "../src/model/status.ts";
import { queuedRecord } from "./_helpers.ts";

/** How many tasks of each status minute `i` (0: an hour ago) ends. */
function load(i: number): Array<[TaskStatusCode, number]> {
  const wave = Math.round(6 + 4 * Math.sin(i / 7) + (i % 5 === 0 ? 3 : 0));
  return [
    [TaskStatus.SUCCESS, wave],
    [TaskStatus.FAILURE, i % 9 === 4 ? 2 : i % 13 === 0 ? 1 : 0],
    [TaskStatus.REVOKED, i % 17 === 8 ? 1 : 0],
  ];
}

/**
 * Plays the 60 minutes before now into the store at `path`: each minute,
 * tasks of job `job` queued in `queue`, claimed and ended as `load` says.
 */
export async function playPastHour(
  path: string,
  job = "addition",
  queue = "history",
): Promise<void> {
  const start = Math.floor(Date.now() / 1000 / 60) * 60 - 3600;
  let t = start;
  await using store = await SqliteStore.open(path, {
    serializer: "json",
    resultTtl: 86_400,
    now: () => t,
  });
  for (let i = 0; i < 60; i++) {
    t = start + i * 60 + 5;
    for (const [status, count] of load(i)) {
      if (count === 0) continue;
      const tasks = Array.from(
        { length: count },
        (_, n) => queuedRecord(t, { name: job, queue, kwargs: { a: i, b: n } }),
      );
      await store.enqueue(tasks);
      if (status === TaskStatus.REVOKED) {
        for (const task of tasks) await store.revoke(task.id);
        continue;
      }
      const claims = await store.claim({
        queues: [queue],
        max: count,
        worker: "history",
        node: "history",
        leaseSeconds: 60,
      });
      t += 1;
      await store.finish(claims.map((claim) => ({
        id: claim.id,
        token: claim.token,
        task: {
          ...claim.task!,
          status,
          timeEnded: t,
          result: status === TaskStatus.SUCCESS ? i + 1 : "no route to host",
          ...(status === TaskStatus.FAILURE
            ? { exception: "Error: no route to host" }
            : {}),
        },
      })));
    }
  }
}
