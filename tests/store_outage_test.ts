/**
 * One log line per store outage (src/runtime/store_outage.ts): the
 * tracker with a test clock, its log captured by a LogTape sink, and the
 * beat's reports routed to it.
 */
import assert from "node:assert/strict";
import { configure, type LogRecord, reset } from "@logtape/logtape";
import { StoreConnectionError } from "../src/model/errors.ts";
import {
  connectionProblem,
  SETTLE_MS,
  storeAndReason,
  StoreOutage,
  storeOutage,
} from "../src/runtime/store_outage.ts";
import { loggedBeatEvents } from "../src/server/beat.ts";

/** Captures what pq logs, at debug level and up, for the test's run. */
async function capturing<T>(
  fn: (lines: () => string[]) => T | Promise<T>,
): Promise<T> {
  const records: LogRecord[] = [];
  await configure({
    reset: true,
    sinks: { capture: (record) => records.push(record) },
    loggers: [
      { category: ["pq"], lowestLevel: "debug", sinks: ["capture"] },
      { category: ["logtape", "meta"], lowestLevel: "error", sinks: [] },
    ],
  });
  try {
    return await fn(() =>
      records.map((record) =>
        `${record.level} ${record.message.map(String).join("")}`
      )
    );
  } finally {
    await reset();
  }
}

const URL = "redis://127.0.0.1:6399/0?namespace=pq";
const away = () =>
  new StoreConnectionError(`Cannot reach ${URL}: not connected for 5 s`);

Deno.test("an outage logs one warning when it starts, debug lines while it lasts, one info line when the store is back", async () => {
  await capturing((lines) => {
    let now = 1_000_000;
    const outage = new StoreOutage({ now: () => now });
    assert.equal(outage.down, false);
    assert.equal(outage.failed(away(), "cannot claim tasks", now - 5000), true);
    assert.equal(outage.down, true);
    for (let i = 0; i < 5; i++) {
      now += 1000;
      assert.equal(outage.failed(away(), "cannot beat", now - 500), true);
    }
    now += 2300;
    outage.succeeded();
    outage.succeeded(); // Up already: nothing more.
    assert.equal(outage.down, false);
    assert.deepEqual(lines(), [
      `warning Lost the store ${URL}: not connected for 5 s; retrying until it is back`,
      ...Array.from(
        { length: 5 },
        () =>
          `debug The store is still away: cannot beat: Cannot reach ${URL}: not connected for 5 s`,
      ),
      // From the start of the first call that failed: 5 + 5 + 2.3 s.
      "info The store is back after 12.3 s",
    ]);
  });
});

Deno.test("a call that began before the store came back, or fails in the seconds after, is the same outage's", async () => {
  await capturing((lines) => {
    let now = 0;
    const outage = new StoreOutage({ now: () => now });
    outage.failed(away(), "cannot claim tasks", 0);
    now = 4000;
    outage.succeeded();
    now = 4100;
    // Sent at 3.5 s, while the store was away: no new outage.
    assert.equal(outage.failed(away(), "cannot renew leases", 3500), true);
    assert.equal(outage.down, false);
    // Sent after, on a connection that is not back yet (each comes back on
    // its own): still the outage's, for SETTLE_MS.
    now = 4000 + SETTLE_MS - 100;
    assert.equal(outage.failed(away(), "cannot listen to revokes"), true);
    assert.equal(outage.down, false);
    // Sent after that: a new outage, said again.
    now = 4000 + SETTLE_MS + 1000;
    assert.equal(outage.failed(away(), "cannot claim tasks", now - 500), true);
    assert.equal(outage.down, true);
    assert.deepEqual(lines().map((line) => line.split(":")[0]), [
      "warning Lost the store redis",
      "info The store is back after 4 s",
      "debug The store is still away",
      "debug The store is still away",
      "warning Lost the store redis",
    ]);
  });
});

Deno.test("an error that is not a connection problem is left to its caller, and ends no outage", async () => {
  await capturing((lines) => {
    const outage = new StoreOutage();
    assert.equal(
      outage.failed(new Error("a bug"), "cannot claim tasks"),
      false,
    );
    assert.equal(
      outage.failed(new TypeError("bad record"), "cannot claim tasks"),
      false,
    );
    assert.equal(outage.down, false);
    outage.failed(away(), "cannot claim tasks");
    assert.equal(outage.failed(new Error("a bug"), "cannot beat"), false);
    assert.equal(outage.down, true);
    assert.equal(lines().length, 1);
  });
});

Deno.test("a subclass of StoreConnectionError is a connection problem too; another error is not", async () => {
  class ConnectionLost extends StoreConnectionError {}
  await capturing((lines) => {
    const outage = new StoreOutage();
    assert.equal(
      outage.failed(
        new ConnectionLost(`Lost the connection to ${URL}: Socket closed`),
        "cannot claim tasks",
      ),
      true,
    );
    assert.equal(
      outage.failed(
        new ConnectionLost(`Lost the connection to ${URL}: ClientOffline`),
        "cannot listen to revokes",
      ),
      true,
    );
    // A store wraps its client's errors: one named as a client's is a bug
    // to be logged, not an outage.
    const bare = Object.assign(new Error("ClientOffline"), {
      name: "RedisConnectionError",
    });
    assert.equal(connectionProblem(bare), false);
    assert.equal(connectionProblem(new TypeError("a bug")), false);
    assert.deepEqual(lines(), [
      `warning Lost the store ${URL}: Socket closed; retrying until it is back`,
      `debug The store is still away: cannot listen to revokes: Lost the connection to ${URL}: ClientOffline`,
    ]);
  });
});

Deno.test("storeAndReason splits a store error's message at its URL", () => {
  assert.deepEqual(
    storeAndReason(`Cannot connect to ${URL}: Connection refused`),
    { store: URL, reason: "Connection refused" },
  );
  assert.deepEqual(
    storeAndReason(
      "Cannot connect to redis://:***@h:6379/0: WRONGPASS invalid password",
    ),
    { store: "redis://:***@h:6379/0", reason: "WRONGPASS invalid password" },
  );
  assert.deepEqual(
    storeAndReason("Cannot open store 'sqlite::memory:': disk I/O error"),
    { store: "sqlite::memory:", reason: "disk I/O error" },
  );
  assert.deepEqual(storeAndReason("Socket closed"), {
    reason: "Socket closed",
  });
  assert.deepEqual(storeAndReason(`no reason after ${URL}`), {
    reason: `no reason after ${URL}`,
  });
});

Deno.test("the beat's failures for want of the store go to the process's tracker, its other failures are logged as before", async () => {
  await capturing((lines) => {
    const events = loggedBeatEvents(() => {}, () => {});
    const since = Date.now();
    events.onError(`StoreConnectionError: Cannot reach ${URL}: down`, {
      connection: true,
      since,
    });
    assert.equal(storeOutage.down, true);
    events.onRecovered();
    assert.equal(storeOutage.down, false);
    events.onError("TypeError: a bug", { connection: false, since });
    events.onRecovered();
    assert.deepEqual(lines(), [
      `warning Lost the store ${URL}: down; retrying until it is back`,
      "info The store is back after 0 s",
      "error Cannot beat: TypeError: a bug",
      "info Beats are written again",
    ]);
  });
});
