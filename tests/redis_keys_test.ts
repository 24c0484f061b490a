/**
 * The Redis key layout, written out: the tests read and write Redis through
 * `redisKeys`, and data already in Redis is read by these names, so a change
 * of one must show here.
 */
import assert from "node:assert/strict";
import { QUEUE_KEYS, redisKeys } from "../src/store/redis/keys.ts";
import { LUA_FILES } from "../src/store/redis/script_files.ts";

Deno.test("redis keys: every key and channel of a namespace", () => {
  const keys = redisKeys("pq");
  assert.deepEqual(
    keys.queue("jobs"),
    Object.fromEntries(QUEUE_KEYS.map((name) => [name, `pq:{jobs}:${name}`])),
  );
  // A queue with a hash tag of its own keeps it.
  assert.equal(keys.queue("{app}.high").tasks, "pq:{app}.high:tasks");
  assert.equal(keys.channel("task"), "pq:task");
  assert.equal(keys.lock("beat"), "pq:lock:beat");
  assert.equal(keys.group("chord-1"), "pq:group:{chord-1}");
  assert.equal(keys.waiting, "pq:waiting");
  assert.equal(keys.queues, "pq:queues");
  assert.equal(keys.inbox("w1"), "pq:inbox:w1");
  assert.deepEqual(keys.workers, {
    beats: "pq:{workers}:beats",
    status: "pq:{workers}:status",
  });
  assert.equal(keys.tasksPattern, "pq:*:tasks");
  assert.equal(keys.searchPattern, "pq:*:search");
  assert.equal(keys.queue("jobs").search, "pq:{jobs}:search");
  assert.equal(keys.queue("jobs").paused, "pq:{jobs}:paused");
  assert.equal(keys.queue("jobs").prio, "pq:{jobs}:prio");
  assert.equal(keys.queue("jobs").history, "pq:{jobs}:history");
  assert.equal(keys.queue("{app}.high").history, "pq:{app}.high:history");
  assert.equal(keys.counted, "pq:counted");
});

Deno.test("redis keys: the scripts build waiting and inbox as the layout does", () => {
  // The scripts are given the namespace and add the rest themselves.
  const waiting = redisKeys("").waiting;
  const inbox = redisKeys("").inbox("");
  for (const file of ["claim.lua", "enqueue.lua"]) {
    assert.ok(
      LUA_FILES[file].includes(`A.namespace .. '${waiting}'`),
      `${file} builds ${waiting}`,
    );
    assert.ok(
      LUA_FILES[file].includes(`A.namespace .. '${inbox}' .. waiter`),
      `${file} builds ${inbox}<waiter>`,
    );
  }
});
