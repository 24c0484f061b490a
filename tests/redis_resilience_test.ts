/**
 * Redis failures: a killed worker, Redis killed and restarted, dropped
 * connections, an unreachable server. Real processes, a private redis-server.
 */
import { queueSizes } from "../src/store/store.ts";
import assert from "node:assert/strict";
import { StoreConnectionError, type Task, TaskStatus } from "../mod.ts";
import { startRedis } from "./_redis.ts";
import { RedisStore } from "../src/store/redis/redis_store.ts";
import {
  EXAMPLE_JOBS,
  producerFor,
  serverArgs,
  startServer,
  tempDir,
} from "./_server.ts";
import { delay, queuedRecord, waitFor } from "./_helpers.ts";
import { claimRequest } from "./_contract_stores.ts";

const CLI = new URL("../cli.ts", import.meta.url).pathname;

/** The ids in the ledger file, with how often each ran. */
async function ledgerRuns(path: string): Promise<Map<string, number>> {
  const runs = new Map<string, number>();
  const text = await Deno.readTextFile(path).catch(() => "");
  for (const id of text.split("\n").filter(Boolean)) {
    runs.set(id, (runs.get(id) ?? 0) + 1);
  }
  return runs;
}

Deno.test("on Redis, a task of a worker killed with SIGKILL completes elsewhere", async () => {
  await using redis = await startRedis();
  const dataStore = redis.url();
  await using server = startServer(serverArgs({
    workers: 2,
    concurrentTasks: 1,
    leaseTimeout: 1,
    dataStore,
    taskPaths: EXAMPLE_JOBS,
  }));
  await using api = await producerFor({ dataStore });
  const started = Promise.withResolvers<string>();
  const future = api.tasks.queue("workerpid", { lag: 2 });
  await api.onEvents("task", future.id, (_channel, _event, task) => {
    const { status, worker } = task;
    if (status === TaskStatus.STARTED && worker) started.resolve(worker);
  });
  const firstWorker = await started.promise;
  Deno.kill(Number(firstWorker.replace("worker-", "")), "SIGKILL");
  const task = await future;
  assert.equal(task.statusString, "SUCCESS");
  assert.notEqual(task.worker, firstWorker);
  assert.equal((await server.stop()).code, 0);
});

Deno.test("Redis killed and restarted (AOF on) during 2,000 tasks loses none", async () => {
  await using redis = await startRedis({ aof: true });
  await using dir = await tempDir();
  const dataStore = redis.url();
  const ledger = `${dir.path}/ledger.txt`;
  await using server = startServer(serverArgs({
    workers: 2,
    concurrentTasks: 20,
    // A claim whose reply was lost in the crash runs again after its lease.
    leaseTimeout: 3,
    dataStore,
    taskPaths: EXAMPLE_JOBS,
  }));
  await using api = await producerFor({ dataStore });
  const kwargs = Array.from({ length: 2000 }, (_, i) => ({ path: ledger, i }));
  const queued: Task[] = [];
  for (let i = 0; i < kwargs.length; i += 500) {
    queued.push(
      ...await api.tasks.queueMany("ledger", kwargs.slice(i, i + 500)),
    );
  }
  const done = Promise.all(queued.map((task) => task.doneCallback!));
  // Let some run, then kill Redis mid-run and bring it back.
  await waitFor(async () => (await ledgerRuns(ledger)).size >= 200, {
    timeout: 30_000,
    what: "200 runs",
  });
  await redis.stop(true);
  const ranWhileDown = (await ledgerRuns(ledger)).size;
  // Down for a second (the scenario: the workers keep trying meanwhile).
  await delay(1000);
  await redis.restart();
  const tasks = await done;
  assert.ok(ranWhileDown < 2000, "Redis went down mid-run");
  assert.equal(tasks.length, 2000);
  assert.deepEqual(
    tasks.filter((task) => task.statusString !== "SUCCESS").map(String),
    [],
  );
  const runs = await ledgerRuns(ledger);
  for (const task of queued) assert.ok(runs.has(task.id), `${task} ran`);
  assert.equal((await server.stop()).code, 0);
});

Deno.test("dropped connections (CLIENT KILL) reconnect and go on", async () => {
  await using redis = await startRedis();
  const dataStore = redis.url();
  await using server = startServer(serverArgs({
    workers: 1,
    concurrentTasks: 10,
    dataStore,
    taskPaths: EXAMPLE_JOBS,
  }));
  await using api = await producerFor({ dataStore });
  assert.equal((await api.tasks.queue("addition", { a: 1, b: 1 })).result, 2);
  const running = Promise.withResolvers<void>();
  await api.onEvents("task", "started", () => running.resolve());
  const futures = Array.from(
    { length: 50 },
    (_, i) => api.tasks.queue("asynchronous", { lag: 0.02 * (i % 5) }),
  );
  // Mid-run: the tasks have begun to start.
  await running.promise;
  // Every connection: the workers', the producer's, blocked and subscribed.
  await redis.cli("CLIENT", "KILL", "TYPE", "normal");
  await redis.cli("CLIENT", "KILL", "TYPE", "pubsub");
  const tasks = await Promise.all(futures);
  assert.ok(tasks.every((task) => task.statusString === "SUCCESS"));
  // An idle worker blocked in its pop reconnects too: new tasks still run.
  await waitFor(
    async () => / flags=b /.test(await redis.cli("CLIENT", "LIST")),
    { what: "a client blocked in a pop" },
  );
  await redis.cli("CLIENT", "KILL", "TYPE", "normal");
  assert.equal((await api.tasks.queue("addition", { a: 2, b: 3 })).result, 5);
  assert.equal((await server.stop()).code, 0);
});

Deno.test("a wrong or missing password is said as such, and nothing stays open", async () => {
  await using redis = await startRedis({ password: "s3cret" });
  const options = { serializer: "json", resultTtl: 60 } as const;
  const cases: Array<[string, RegExp]> = [
    [redis.url().replace("s3cret", "wrong"), /WRONGPASS/],
    [
      redis.url().replace(":s3cret@", ""),
      /the server requires a password: give it in the URL/,
    ],
  ];
  for (const [url, reason] of cases) {
    await assert.rejects(
      RedisStore.open(url, options),
      (error: unknown) =>
        error instanceof StoreConnectionError &&
        error.message.includes("redis://") && reason.test(error.message) &&
        !error.message.includes("s3cret"),
    );
  }
  // The refused connections were closed: the server has none of them.
  await waitFor(
    async () => !/cmd=info/.test(await redis.cli("CLIENT", "LIST")),
    { what: "the refused connection closed" },
  );
});

Deno.test("while Redis is down, queue rejects with StoreConnectionError", async () => {
  await using redis = await startRedis();
  await using api = await producerFor({ dataStore: redis.url() });
  await redis.stop();
  const started = Date.now();
  await assert.rejects(
    Promise.resolve(api.tasks.queue("addition", { a: 1 })),
    (error: unknown) =>
      error instanceof StoreConnectionError &&
      /Cannot (reach|connect to) redis:\/\/127\.0\.0\.1/.test(error.message),
  );
  assert.ok(Date.now() - started < 15_000, "rejected within a bounded wait");
  // Nothing was half-written: after the restart the queue is empty.
  await redis.restart();
  assert.deepEqual(await queueSizes(api.store, ["pulsarqueue"]), [0]);
});

Deno.test("an unreachable Redis at start-up is a clear error at once with --store-wait 0", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  const output = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      CLI,
      "--data-store",
      `redis://127.0.0.1:${port}/0`,
      "--task-paths",
      EXAMPLE_JOBS,
      // A server waits for its store by default (tests/redis_outage_test.ts).
      "--store-wait",
      "0",
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stderr = new TextDecoder().decode(output.stderr);
  assert.equal(output.code, 1, stderr);
  assert.match(
    stderr,
    new RegExp(`Cannot connect to redis://127.0.0.1:${port}`),
  );
});

Deno.test("a malformed Redis URL is a clear error", async () => {
  const output = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      CLI,
      "--data-store",
      "redis://127.0.0.1:6379/notanumber",
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stderr = new TextDecoder().decode(output.stderr);
  assert.notEqual(output.code, 0);
  assert.match(stderr, /database must be a number/);
});

/**
 * A TCP proxy to `port` on 127.0.0.1 that can swallow the server's replies
 * (a network that lost them): what the client sends still reaches the
 * server. Closed on dispose.
 */
function replyEatingProxy(port: number) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns: Deno.Conn[] = [];
  const proxy = {
    port: (listener.addr as Deno.NetAddr).port,
    swallow: false,
    [Symbol.dispose]() {
      listener.close();
      for (const conn of conns) {
        try {
          conn.close();
        } catch {
          // Already closed.
        }
      }
    },
  };
  (async () => {
    for await (const client of listener) {
      const server = await Deno.connect({ hostname: "127.0.0.1", port });
      conns.push(client, server);
      const pipe = async (from: Deno.Conn, to: Deno.Conn, replies: boolean) => {
        const buffer = new Uint8Array(64 * 1024);
        try {
          for (let n; (n = await from.read(buffer)) !== null;) {
            if (!(replies && proxy.swallow)) {
              await to.write(buffer.subarray(0, n));
            }
          }
        } catch {
          // One side closed.
        }
        for (const conn of [from, to]) {
          try {
            conn.close();
          } catch {
            // Already closed.
          }
        }
      };
      pipe(client, server, false);
      pipe(server, client, true);
    }
  })().catch(() => undefined);
  return proxy;
}

Deno.test("a claim whose reply was lost with its connection gives back what the server took for it", async () => {
  await using redis = await startRedis();
  using proxy = replyEatingProxy(redis.port);
  await using store = await RedisStore.open(
    `redis://127.0.0.1:${proxy.port}/0?namespace=lostclaim`,
    { serializer: "json", resultTtl: 60 },
  );
  const request = claimRequest({ queues: ["lost"], leaseSeconds: 60 });
  // A first claim, of nothing, loads the script: the lost one runs at once.
  assert.deepEqual(await store.claim(request), []);
  const queued = [1, 2, 3].map(() =>
    queuedRecord(Date.now() / 1000, { queue: "lost" })
  );
  await store.enqueue(queued);
  // The server runs the claim, its reply is lost: the client gives up on it
  // after its command timeout (5 s) and drops the connection.
  proxy.swallow = true;
  await assert.rejects(store.claim(request), StoreConnectionError);
  // Before the client connects again (its first retry is a timer away).
  proxy.swallow = false;
  assert.equal(await redis.cli("HLEN", "lostclaim:{lost}:leases"), "3");
  // The next claim gives those tasks back first and takes them again, long
  // before their 60 s leases would end.
  const claimed = await store.claim(request);
  assert.deepEqual(
    claimed.map((claim) => claim.id).sort(),
    queued.map((task) => task.id).sort(),
  );
});
