/**
 * pq's own Redis client against bad servers: one stopped (SIGSTOP) that
 * accepts connections and answers nothing, one that restarts, one that
 * refuses the password, one that moved (`locate`); a blocking command is
 * not taken for a hung server. Real redis-servers; the bounds on time are
 * loose (a busy 2-core machine).
 */
import assert from "node:assert/strict";
import {
  RedisClient,
  RedisConnectionError,
  type RedisConnectionState,
  RedisReplyError,
  RedisTimeoutError,
} from "../src/store/redis/connection.ts";
import { clientAddress, type RedisServer, startRedis } from "./_redis.ts";
import { delay, eventually } from "./_helpers.ts";

/** The pid of a running redis-server, from its INFO. */
async function serverPid(redis: RedisServer): Promise<number> {
  const info = await redis.cli("INFO", "server");
  const pid = Number(/process_id:(\d+)/.exec(info)?.[1]);
  assert.ok(pid > 0, `no process_id in ${info}`);
  return pid;
}

Deno.test("a stopped server fails the command in flight after commandTimeout, and serves again once continued", async () => {
  await using redis = await startRedis();
  const pid = await serverPid(redis);
  const client = new RedisClient(clientAddress(redis.url("c")), {
    commandTimeout: 1,
  });
  const states: RedisConnectionState[] = [];
  client.onStateChange((state) => states.push(state));
  await client.connect();
  let stopped = false;
  try {
    assert.equal(await client.send(["PING"]), "PONG");
    Deno.kill(pid, "SIGSTOP");
    stopped = true;
    const sent = performance.now();
    await assert.rejects(
      client.send(["SET", "k", "v"]),
      (error: unknown) =>
        error instanceof RedisTimeoutError &&
        error instanceof RedisConnectionError &&
        /no reply in 1 s/i.test(error.message),
    );
    const waited = performance.now() - sent;
    assert.ok(waited > 900 && waited < 4000, `failed after ${waited} ms`);
    // Its backlog accepts the connections made again: not up for that.
    await delay(1500);
    assert.equal(client.isReady, false);
    Deno.kill(pid, "SIGCONT");
    stopped = false;
    const continued = performance.now();
    assert.equal(await client.whenReady(10_000), true);
    const back = performance.now() - continued;
    assert.ok(back < 3000, `up again ${back} ms after SIGCONT`);
    assert.equal(await client.send(["PING"]), "PONG");
    await eventually(() => states.length >= 2, 5, "the state changes");
    assert.deepEqual(states, ["down", "up"]);
  } finally {
    if (stopped) Deno.kill(pid, "SIGCONT");
    client.destroy();
  }
});

Deno.test("a blocking command may wait its own timeout beyond commandTimeout", async () => {
  await using redis = await startRedis();
  const client = new RedisClient(clientAddress(redis.url("c")), {
    commandTimeout: 1,
  });
  const errors: Error[] = [];
  client.onError((error) => errors.push(error));
  await client.connect();
  try {
    let started = performance.now();
    assert.equal(
      await client.send(["BLMPOP", "2", "1", "nothing", "LEFT"]),
      null,
    );
    assert.ok(performance.now() - started > 1900, "it blocked its 2 s");
    // WAIT's timeout is in ms (no replica: it waits all of it).
    started = performance.now();
    assert.equal(await client.send(["WAIT", "1", "1500"]), 0);
    assert.ok(performance.now() - started > 1400, "it waited its 1.5 s");
    assert.equal(await client.send(["PING"]), "PONG");
    assert.deepEqual(errors, [], "the connection was never dropped");
  } finally {
    await client.close();
  }
});

Deno.test("attempts to reconnect back off (far fewer than one each 50 ms), then reconnect once the server is back", async () => {
  await using redis = await startRedis();
  const client = new RedisClient(clientAddress(redis.url("c")));
  const errors: Error[] = [];
  client.onError((error) => errors.push(error));
  await client.connect();
  try {
    await redis.stop();
    await eventually(() => errors.length > 0, 5, "the drop");
    await delay(3000);
    const refused = errors.filter((error) =>
      error instanceof Deno.errors.ConnectionRefused
    ).length;
    // Full jitter from 50 ms doubling to 2 s: about 7 in 3 s (a fixed
    // 50 ms made 60).
    assert.ok(
      refused >= 3 && refused <= 20,
      `${refused} attempts in 3 s`,
    );
    await redis.restart();
    assert.equal(await client.whenReady(10_000), true);
    assert.equal(await client.send(["PING"]), "PONG");
  } finally {
    client.destroy();
  }
});

Deno.test("an outage is told once down (with the cause) and once up, however many retries failed", async () => {
  await using redis = await startRedis();
  const client = new RedisClient(clientAddress(redis.url("c")));
  const states: Array<[RedisConnectionState, Error | undefined]> = [];
  client.onStateChange((state, error) => states.push([state, error]));
  let refused = 0;
  client.onError((error) => {
    if (error instanceof Deno.errors.ConnectionRefused) refused++;
  });
  await client.connect();
  try {
    assert.equal(states.length, 0, "connect() is no change of state");
    await redis.stop();
    await eventually(() => refused >= 4, 10, "failed retries");
    await redis.restart();
    assert.equal(await client.whenReady(10_000), true);
    await eventually(() => states.length >= 2, 5, "the state changes");
    await delay(100);
    assert.deepEqual(states.map(([state]) => state), ["down", "up"]);
    assert.ok(states[0][1] instanceof RedisConnectionError, "the cause");
    assert.equal(states[1][1], undefined);
  } finally {
    client.destroy();
  }
  assert.equal(states.length, 2, "closing is no outage");
});

Deno.test("a refused password is said as such: by connect(), and to onError when reconnecting", async () => {
  await using redis = await startRedis({ password: "s3cret" });
  const wrong = new RedisClient(
    clientAddress(`redis://:nope@127.0.0.1:${redis.port}/0`),
  );
  await assert.rejects(
    wrong.connect(),
    (error: unknown) =>
      error instanceof RedisReplyError && error.code === "WRONGPASS",
  );
  assert.equal(wrong.isReady, false);
  wrong.destroy();
  const missing = new RedisClient(
    clientAddress(`redis://127.0.0.1:${redis.port}/0`),
  );
  await assert.rejects(
    missing.connect(),
    (error: unknown) =>
      error instanceof RedisReplyError && error.code === "NOAUTH",
  );
  missing.destroy();

  // Connected, then the password changes and the connection drops.
  const client = new RedisClient(clientAddress(redis.url("c")));
  const admin = client.duplicate();
  const errors: Error[] = [];
  client.onError((error) => errors.push(error));
  await client.connect();
  await admin.connect();
  try {
    await admin.send(["CONFIG", "SET", "requirepass", "changed"]);
    await admin.send(["CLIENT", "KILL", "TYPE", "normal"]); // Not itself.
    await eventually(
      () =>
        errors.some((error) =>
          error instanceof RedisReplyError && error.code === "WRONGPASS"
        ),
      10,
      "WRONGPASS told to onError",
    );
    assert.equal(client.isReady, false);
  } finally {
    client.destroy();
    admin.destroy();
  }
});

Deno.test("locate() is asked before each connect, and its answer used", async () => {
  await using first = await startRedis();
  await using second = await startRedis();
  let target = { hostname: "127.0.0.1", port: first.port };
  let asked = 0;
  const client = new RedisClient(clientAddress(first.url("c")), {
    locate: () => {
      asked++;
      return Promise.resolve(target);
    },
  });
  const copy = client.duplicate();
  await client.connect();
  try {
    assert.equal(asked, 1);
    assert.equal(client.address, `127.0.0.1:${first.port}`);
    await client.send(["SET", "where", "first"]);
    await second.cli("SET", "where", "second");
    target = { hostname: "127.0.0.1", port: second.port };
    await first.stop();
    assert.equal(await client.whenReady(10_000), true);
    assert.ok(asked >= 2, `asked ${asked} times`);
    assert.equal(client.address, `127.0.0.1:${second.port}`);
    assert.equal(String(await client.send(["GET", "where"])), "second");
    // A duplicate asks the same locate().
    await copy.connect();
    assert.equal(String(await copy.send(["GET", "where"])), "second");
  } finally {
    client.destroy();
    copy.destroy();
  }
});

Deno.test("one attempt to connect is bounded by connectTimeout, over TLS too", async () => {
  // A listener that accepts and never answers: no PING reply, no TLS
  // handshake.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  const accepted: Deno.Conn[] = [];
  const accepting = (async () => {
    for await (const conn of listener) accepted.push(conn);
  })();
  try {
    for (const scheme of ["redis", "rediss"]) {
      const address = clientAddress(`${scheme}://127.0.0.1:${port}/0`);
      // The options, or the connect timeout alone (the older form).
      const client = scheme === "redis"
        ? new RedisClient(address, 1)
        : new RedisClient(address, { connectTimeout: 1 });
      const started = performance.now();
      await assert.rejects(
        client.connect(),
        (error: unknown) => error instanceof RedisTimeoutError,
        scheme,
      );
      const took = performance.now() - started;
      assert.ok(took > 900 && took < 4000, `${scheme}: ${took} ms`);
      client.destroy();
    }
  } finally {
    listener.close();
    await accepting;
    for (const conn of accepted) conn.close();
  }
});
