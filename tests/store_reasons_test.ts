/**
 * How a store ends a task itself (`src/store/_reasons.ts`), decided once for
 * both stores: the redelivery limit, a revoke, a result that cannot be
 * encoded. The contract suite checks both stores apply it.
 */
import assert from "node:assert/strict";
import { codecFor } from "../src/model/codec.ts";
import { TaskStatus } from "../src/model/status.ts";
import { standInRecord } from "../src/model/task.ts";
import {
  afterLeaseExpired,
  encodeOutcome,
  endedRecord,
  revokedQueued,
  revokedRunning,
} from "../src/store/_reasons.ts";

Deno.test("an expired lease runs again up to maxRedeliveries, then fails", () => {
  assert.equal(afterLeaseExpired("t1", 1, 3, false), undefined);
  assert.equal(afterLeaseExpired("t1", 3, 3, false), undefined);
  assert.deepEqual(afterLeaseExpired("t1", 4, 3, false), {
    status: TaskStatus.FAILURE,
    result:
      "Task redelivered too many times: its lease expired 4 times (maxRedeliveries 3)",
  });
});

Deno.test("an expired lease of a task whose revoke was asked ends REVOKED", () => {
  for (const redeliveries of [1, 9]) {
    assert.deepEqual(
      afterLeaseExpired("t1", redeliveries, 3, true),
      revokedRunning("t1"),
    );
  }
  assert.equal(revokedRunning("t1").status, TaskStatus.REVOKED);
  assert.deepEqual(revokedQueued("t1"), {
    status: TaskStatus.REVOKED,
    result: "Task t1 was revoked before it started",
  });
});

Deno.test("an ended record is the stored one with its end, nothing else", () => {
  const base = standInRecord({ id: "t1", queue: "q" }, 10);
  const ended = endedRecord(base, revokedQueued("t1"), 12.5);
  assert.deepEqual(ended, {
    ...base,
    status: TaskStatus.REVOKED,
    result: "Task t1 was revoked before it started",
    timeEnded: 12.5,
  });
  assert.equal(base.status, TaskStatus.QUEUED);
});

Deno.test("a result the codec cannot encode ends the task FAILURE saying why", () => {
  for (const name of ["json", "msgpack"] as const) {
    const codec = codecFor(name);
    const task = {
      ...standInRecord({ id: "t1", queue: "q" }, 10),
      status: TaskStatus.SUCCESS,
      result: 1n,
    };
    const { task: stored, payload } = encodeOutcome(codec, {
      id: "t1",
      token: "x",
      task,
    });
    assert.equal(stored.status, TaskStatus.FAILURE);
    assert.match(
      String(stored.result),
      new RegExp(`^Cannot store the result of task t1 with ${name}: `),
    );
    assert.deepEqual(codec.decode(payload), stored);
    // An encodable one is stored as it is.
    const fine = { ...task, result: 2 };
    assert.deepEqual(
      encodeOutcome(codec, { id: "t1", token: "x", task: fine }),
      { task: fine, payload: codec.encode(fine) },
    );
  }
});
