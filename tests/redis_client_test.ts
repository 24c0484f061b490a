/**
 * pq's own Redis client: replies parsed from any split of the bytes,
 * arguments of every kind, errors, pipelining, a dropped connection made
 * again (with its subscriptions), and no offline queue.
 */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import {
  RedisClient,
  RedisConnectionError,
  RedisReplyError,
} from "../src/store/redis/connection.ts";
import { ReplyReader } from "../src/store/redis/resp.ts";
import { clientAddress, startRedis } from "./_redis.ts";
import { eventually } from "./_server.ts";

const encoder = new TextEncoder();

Deno.test("the reply reader parses replies from any split of their bytes", () => {
  const wire = encoder.encode(
    "+OK\r\n:42\r\n$5\r\nhe\r\nl\r\n$-1\r\n*-1\r\n" +
      "*3\r\n$1\r\na\r\n*2\r\n:1\r\n$0\r\n\r\n+x\r\n-ERR bad thing\r\n",
  );
  const expected = [
    "OK",
    42,
    Buffer.from("he\r\nl"),
    null,
    null,
    [Buffer.from("a"), [1, Buffer.from("")], "x"],
  ];
  for (let cut = 0; cut <= wire.length; cut++) {
    const reader = new ReplyReader();
    const got: unknown[] = [];
    const errors: string[] = [];
    for (const part of [wire.subarray(0, cut), wire.subarray(cut)]) {
      reader.push(part);
      for (let next = reader.next(); next; next = reader.next()) {
        if (next.error !== undefined) errors.push(next.error);
        else got.push(next.reply);
      }
    }
    assert.deepEqual(got, expected, `split at ${cut}`);
    assert.deepEqual(errors, ["ERR bad thing"], `split at ${cut}`);
  }
});

Deno.test("the client sends and reads back every kind of argument", async () => {
  await using redis = await startRedis();
  const client = new RedisClient(clientAddress(redis.url("c")));
  await client.connect();
  try {
    const text = "naïve ✓ 😀 " + "x".repeat(70_000);
    const binary = Uint8Array.from({ length: 256 }, (_, i) => i);
    assert.equal(await client.send(["SET", "text", text]), "OK");
    assert.equal(await client.send(["SET", "bin", binary]), "OK");
    assert.equal(await client.send(["SET", "empty", ""]), "OK");
    assert.equal(String(await client.send(["GET", "text"])), text);
    assert.deepEqual(
      new Uint8Array(await client.send(["GET", "bin"]) as Buffer),
      binary,
    );
    assert.equal(String(await client.send(["GET", "empty"])), "");
    assert.equal(await client.send(["GET", "none"]), null);
    // Pipelined: many commands of one turn, answered in order.
    const replies = await Promise.all(
      Array.from({ length: 500 }, (_, i) => client.send(["ECHO", `${i}`])),
    );
    assert.deepEqual(replies.map(String), replies.map((_, i) => `${i}`));
    await assert.rejects(
      () => client.send(["NOSUCHCOMMAND"]),
      (error: unknown) =>
        error instanceof RedisReplyError &&
        /unknown command/.test(error.message),
    );
    // The connection goes on after an error reply.
    assert.equal(await client.send(["PING"]), "PONG");
  } finally {
    await client.close();
  }
});

Deno.test("a dropped connection fails what was in flight, then comes back with its subscriptions", async () => {
  await using redis = await startRedis();
  const url = redis.url("c");
  const client = new RedisClient(clientAddress(url));
  const subscriber = client.duplicate();
  const errors: Error[] = [];
  client.onError((error) => errors.push(error));
  await client.connect();
  await subscriber.connect();
  try {
    const messages: string[] = [];
    await subscriber.subscribe(
      "news",
      (payload) => messages.push(`${payload}`),
    );
    await client.send(["PUBLISH", "news", "one"]);
    await eventually(() => messages.length === 1, 5, "the first message");

    // A blocked command in flight when every client is killed.
    const blocker = client.duplicate();
    await blocker.connect();
    const blocked = assert.rejects(
      blocker.send(["BLPOP", "nothing", "0"]),
      RedisConnectionError,
    );
    await redis.send(["CLIENT", "KILL", "TYPE", "normal"]);
    await redis.send(["CLIENT", "KILL", "TYPE", "pubsub"]);
    await blocked;
    blocker.destroy();

    // It comes back by itself, with its subscription.
    assert.equal(await client.whenReady(5000), true);
    assert.equal(await subscriber.whenReady(5000), true);
    assert.ok(errors.length > 0, "the drop was reported");
    assert.equal(await client.send(["PING"]), "PONG");
    await eventually(
      async () => {
        await client.send(["PUBLISH", "news", "two"]);
        return messages.includes("two");
      },
      5,
      "a message after the reconnect",
    );
    await subscriber.unsubscribe("news");
    // Out of subscribed mode once its last channel is gone.
    assert.equal(await subscriber.send(["PING"]), "PONG");
  } finally {
    await client.close();
    await subscriber.close();
  }
  await assert.rejects(() => client.send(["PING"]), RedisConnectionError);
  assert.equal(await client.whenReady(5000), false);
});

Deno.test("connect fails with the reason when nothing listens", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  const client = new RedisClient(clientAddress(`redis://127.0.0.1:${port}/0`));
  await assert.rejects(() => client.connect(), /refused/i);
  client.destroy();
});

Deno.test("while the server is down a command fails at once, not queued", async () => {
  const redis = await startRedis();
  const client = new RedisClient(clientAddress(redis.url("c")));
  await client.connect();
  try {
    await redis[Symbol.asyncDispose]();
    assert.equal(await client.whenReady(200), false);
    const started = Date.now();
    await assert.rejects(
      () => client.send(["PING"]),
      (error: unknown) =>
        error instanceof RedisConnectionError &&
        /ClientOffline/.test(error.message),
    );
    assert.ok(Date.now() - started < 100, "it did not wait");
  } finally {
    client.destroy();
  }
});
