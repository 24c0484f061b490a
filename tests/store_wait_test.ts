/**
 * A server waits for a store it cannot reach at start-up
 * (src/server/store_wait.ts): which failures are waited out, the bound,
 * the backoff, the stop signal and the log, with an opener that fails as
 * told. The end-to-end tests are in tests/redis_outage_test.ts.
 */
import assert from "node:assert/strict";
import { configure, reset } from "@logtape/logtape";
import { StoreConnectionError } from "../src/model/errors.ts";
import { defaultSettings } from "../src/model/settings_table.ts";
import type { Settings } from "../src/model/settings_types.ts";
import {
  connectionFailure,
  openStoreWaiting,
} from "../src/server/store_wait.ts";
import type { Store } from "../src/store/store.ts";

const URL = "redis://127.0.0.1:6399/0";

/** A store error over `cause`, as the Redis store wraps a socket's. */
const wrapped = (cause?: unknown) =>
  new StoreConnectionError(
    `Cannot connect to ${URL}: ${
      cause instanceof Error ? cause.message : "no cause"
    }`,
    cause === undefined ? undefined : { cause },
  );
const refused = () =>
  wrapped(
    new Deno.errors.ConnectionRefused("Connection refused (os error 111)"),
  );

Deno.test("connection failures are told from the failures that waiting does not mend", () => {
  for (
    const cause of [
      new Deno.errors.ConnectionRefused("Connection refused"),
      new Deno.errors.ConnectionReset("Connection reset by peer"),
      new Deno.errors.TimedOut("Connection timed out"),
      new DOMException("Signal timed out.", "TimeoutError"),
      new Error("no answer in 5 s"),
      // The Redis client's, as it names them (a stopped server: no answer).
      Object.assign(new Error("No connection in 5 s to 127.0.0.1:6399"), {
        name: "RedisTimeoutError",
      }),
      Object.assign(new Error("Socket closed during the handshake"), {
        name: "RedisConnectionError",
      }),
      new Error("Socket closed by the server"),
      new Error(
        "failed to lookup address information: Name or service not known",
      ),
      // Wrapped twice, as a connection lost while the store was opened.
      new StoreConnectionError("Lost the connection", {
        cause: new Deno.errors.ConnectionReset("reset"),
      }),
    ]
  ) {
    assert.equal(connectionFailure(wrapped(cause)), true, String(cause));
  }
  const replyError = Object.assign(new Error("WRONGPASS invalid password"), {
    name: "RedisReplyError",
    code: "WRONGPASS",
  });
  for (
    const error of [
      // A malformed URL, a missing CA file: no cause.
      new StoreConnectionError(
        `Cannot open store '${URL}x': the database must be a number`,
      ),
      wrapped(replyError),
      wrapped(new Deno.errors.InvalidData("invalid peer certificate")),
      // Something else than Redis answered (an HTTP server).
      wrapped(
        Object.assign(
          new Error("Socket closed: Cannot read a reply of type 'H'", {
            cause: new Error("Cannot read a reply of type 'H'"),
          }),
          { name: "RedisConnectionError" },
        ),
      ),
      wrapped(new Deno.errors.NotFound("No such file or directory")),
      // Not a store's error at all.
      new Deno.errors.ConnectionRefused("Connection refused"),
      new TypeError("a bug"),
    ]
  ) {
    assert.equal(connectionFailure(error), false, String(error));
  }
});

/** An opener that fails with each of `failures` in turn, then opens. */
function opener(failures: unknown[]): {
  open: (settings: Settings) => Promise<Store>;
  tries: number[];
} {
  const tries: number[] = [];
  const open = () => {
    tries.push(Date.now());
    const failure = failures.shift();
    if (failure !== undefined) return Promise.reject(failure);
    return Promise.resolve({ url: URL } as Store);
  };
  return { open, tries };
}

/** Captures what pq logs at debug level and up while `fn` runs. */
async function capturing<T>(
  fn: (lines: string[]) => Promise<T>,
): Promise<T> {
  const lines: string[] = [];
  await configure({
    reset: true,
    sinks: {
      capture: (record) =>
        lines.push(`${record.level} ${record.message.map(String).join("")}`),
    },
    loggers: [
      { category: ["pq"], lowestLevel: "debug", sinks: ["capture"] },
      { category: ["logtape", "meta"], lowestLevel: "error", sinks: [] },
    ],
  });
  try {
    return await fn(lines);
  } finally {
    await reset();
  }
}

const settings = (storeWait: number): Settings => ({
  ...defaultSettings(),
  dataStore: URL,
  storeWait,
});

Deno.test("a store that cannot be reached is tried again after 0.5 s, then 1 s..., and said once", async () => {
  await capturing(async (lines) => {
    const { open, tries } = opener([refused(), refused(), refused()]);
    const store = await openStoreWaiting(settings(Infinity), { open });
    assert.equal(store?.url, URL);
    assert.equal(tries.length, 4);
    const waits = tries.slice(1).map((at, i) => at - tries[i]);
    for (const [i, expected] of [500, 1000, 2000].entries()) {
      assert.ok(
        waits[i] >= expected - 20 && waits[i] < expected + 400,
        `wait ${i + 1} was ${waits[i]} ms, not about ${expected}`,
      );
    }
    assert.deepEqual(lines.map((line) => line.replace(/[\d.]+ s$/, "N s")), [
      `warning Waiting for the store ${URL}: Connection refused (os error 111) (--store-wait bounds the wait)`,
      `debug Still waiting for the store: Cannot connect to ${URL}: Connection refused (os error 111)`,
      `debug Still waiting for the store: Cannot connect to ${URL}: Connection refused (os error 111)`,
      `info Connected to the store ${URL} after N s`,
    ]);
  });
});

Deno.test("the wait is bounded by storeWait, and then says how long it waited", async () => {
  await capturing(async () => {
    const { open, tries } = opener(Array.from({ length: 20 }, refused));
    const started = Date.now();
    await assert.rejects(
      openStoreWaiting(settings(1.2), { open }),
      (error: unknown) =>
        error instanceof StoreConnectionError &&
        error.message ===
          `Cannot connect to ${URL}: Connection refused (os error 111); gave up after waiting 1.2 s (--store-wait 1.2)`,
    );
    const took = Date.now() - started;
    assert.ok(took >= 1200 && took < 2000, `took ${took} ms`);
    // At 0, 0.5 and 1.2 s: the last try is at the bound.
    assert.equal(tries.length, 3);
  });
});

Deno.test("storeWait 0 and failures that waiting does not mend are thrown at once, as they are", async () => {
  await capturing(async (lines) => {
    const first = refused();
    const noWait = opener([first]);
    await assert.rejects(
      openStoreWaiting(settings(0), { open: noWait.open }),
      (error: unknown) => error === first,
    );
    const badUrl = new StoreConnectionError(
      `Cannot open store '${URL}x': the database must be a number`,
    );
    const bad = opener([badUrl]);
    await assert.rejects(
      openStoreWaiting(settings(Infinity), { open: bad.open }),
      (error: unknown) => error === badUrl,
    );
    assert.equal(noWait.tries.length + bad.tries.length, 2);
    assert.deepEqual(lines, []);
  });
});

Deno.test("stopping the server ends the wait: undefined, said once for all the waits of the process", async () => {
  await capturing(async (lines) => {
    const stop = new AbortController();
    const failures = Array.from({ length: 20 }, refused);
    // The arbiter and its scheduler wait together: one line for both.
    const waits = [
      openStoreWaiting(settings(Infinity), {
        open: opener(failures.slice(0, 10)).open,
        signal: stop.signal,
      }),
      openStoreWaiting(settings(Infinity), {
        open: opener(failures.slice(10)).open,
        signal: stop.signal,
      }),
    ];
    setTimeout(() => stop.abort(), 800);
    assert.deepEqual(await Promise.all(waits), [undefined, undefined]);
    assert.deepEqual(lines.filter((line) => !line.startsWith("debug")), [
      `warning Waiting for the store ${URL}: Connection refused (os error 111) (--store-wait bounds the wait)`,
      "info Stopped while waiting for the store",
    ]);
  });
});

Deno.test("with log false (the beat thread) the wait says nothing", async () => {
  await capturing(async (lines) => {
    const { open, tries } = opener([refused()]);
    const store = await openStoreWaiting(settings(Infinity), {
      open,
      log: false,
    });
    assert.equal(store?.url, URL);
    assert.equal(tries.length, 2);
    assert.deepEqual(lines, []);
  });
});
