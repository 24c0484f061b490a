/**
 * What a server says when Redis goes away, end to end: real `cli.ts`
 * servers on a private redis-server that is stopped and started again. An
 * outage under a running server costs one warning when it starts and one
 * info line when Redis is back, per process; a server started before
 * Redis waits for it (`storeWait`) and says so once; a bounded wait ends
 * with the reason; what waiting does not mend is not waited for.
 */
import assert from "node:assert/strict";
import { startRedis } from "./_redis.ts";
import { EXAMPLE_JOBS, producerFor } from "./_server.ts";
import { delay, waitFor } from "./_helpers.ts";

const CLI = new URL("../cli.ts", import.meta.url).pathname;

/** A `cli.ts` server whose whole log (stdout and stderr) is kept. */
interface LoggedServer extends AsyncDisposable {
  /** Everything it wrote so far, stdout and stderr interleaved. */
  log(): string;
  /** How many lines of its log match `pattern`. */
  count(pattern: RegExp): number;
  /** Resolves once a line matches `pattern`; fails after `seconds`. */
  saw(pattern: RegExp, seconds?: number): Promise<void>;
  /** Resolves with its exit status (without stopping it). */
  status: Promise<Deno.CommandStatus>;
  /** Sends SIGTERM and resolves with the exit status. */
  stop(): Promise<Deno.CommandStatus>;
}

/** Starts `deno run cli.ts <args>` with `env`, keeping its log. */
function startLogged(
  args: string[],
  env: Record<string, string> = {},
): LoggedServer {
  const process = new Deno.Command(Deno.execPath(), {
    args: ["run", "--permission-set=test", "--no-prompt", CLI, ...args],
    env: { PQ_PERMISSION_SET: "test", NO_COLOR: "1", ...env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let text = "";
  const read = async (stream: ReadableStream<Uint8Array>) => {
    const decoder = new TextDecoder();
    for await (const chunk of stream) {
      text += decoder.decode(chunk, { stream: true });
    }
  };
  const reading = Promise.all([read(process.stdout), read(process.stderr)]);
  const status = process.status.then(async (status) => {
    await reading;
    return status;
  });
  const lines = () => text.split("\n");
  const stop = () => {
    try {
      process.kill("SIGTERM");
    } catch {
      // Exited already.
    }
    return status;
  };
  return {
    log: () => text,
    count: (pattern) => lines().filter((line) => pattern.test(line)).length,
    saw: (pattern, seconds = 30) =>
      waitFor(() => pattern.test(text), {
        timeout: seconds * 1000,
        interval: 50,
        what: `${pattern} in the server's log:\n${text}`,
      }),
    status,
    stop,
    async [Symbol.asyncDispose]() {
      await stop();
    },
  };
}

/** A port of 127.0.0.1 where nothing listens (the OS picked it free). */
function unusedPort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

const LOST = /WRN pq·store Lost the store /;
const BACK = /INF pq·store The store is back after [\d.]+ s/;
/** What each part logged for every failed call before (one a second). */
const PER_CALL =
  /(ERR|WRN) .*(Cannot claim tasks|Cannot wait for tasks|Cannot reclaim|Cannot renew leases|Cannot record|Cannot beat|Cannot publish a heartbeat|Cannot listen to revokes)/;

/**
 * Stops Redis under a server of `workers` worker processes for 6 s (each
 * says it lost the store, the calls after it are logged at debug level),
 * starts it again, and checks what the server said: one warning and one
 * info line per worker process, nothing per failed call; then a task
 * queued after the restart runs.
 */
async function outage(workers: number): Promise<void> {
  await using redis = await startRedis();
  const dataStore = redis.url();
  await using server = startLogged([
    "--workers",
    String(workers),
    "--data-store",
    dataStore,
    "--task-paths",
    EXAMPLE_JOBS,
    "--log-level",
    "debug",
  ]);
  await waitFor(() => server.count(/Worker \S+ consuming/) === workers, {
    timeout: 30_000,
    what: `${workers} workers consuming`,
  });
  await redis.stop();
  const stopped = Date.now();
  await waitFor(() => server.count(LOST) === workers, {
    timeout: 30_000,
    what: `${workers} 'Lost the store' lines in:\n${server.log()}`,
  });
  await server.saw(/DBG pq·store The store is still away: /);
  // Calls in flight fail at once; the next wait 5 s for their connection
  // and fail then: down for 6 s, both kinds of failure come.
  await delay(Math.max(0, stopped + 6000 - Date.now()));
  await redis.restart();
  await waitFor(() => server.count(BACK) === workers, {
    timeout: 30_000,
    what: `${workers} 'back' lines in:\n${server.log()}`,
  });
  {
    await using api = await producerFor({ dataStore });
    const task = await api.tasks.queue("addition", { a: 1, b: 2 });
    assert.equal(task.statusString, "SUCCESS");
    assert.equal(task.result, 3);
  }
  // Late failures of connections that came back after the others are
  // still the outage's: nothing more is said.
  await delay(2000);
  assert.equal((await server.stop()).code, 0);
  const log = server.log();
  assert.equal(server.count(LOST), workers, log);
  assert.equal(server.count(BACK), workers, log);
  const lost = log.split("\n").find((line) => LOST.test(line))!;
  assert.ok(
    lost.includes(`"${dataStore}"`) &&
      lost.endsWith("; retrying until it is back"),
    lost,
  );
  assert.equal(server.count(PER_CALL), 0, log);
}

Deno.test("a Redis outage under a running server costs one warning when it starts and one info line when Redis is back; a task queued after it runs", async () => {
  await outage(1);
});

Deno.test("with --workers 2 an outage costs one warning and one info line per worker process", async () => {
  await outage(2);
});

Deno.test("a server started before Redis waits for it, says so once, and runs tasks once Redis is up", async () => {
  const port = unusedPort();
  const dataStore = `redis://127.0.0.1:${port}/0?namespace=pqtest`;
  // The arbiter and its scheduler both wait: one line for the process.
  await using server = startLogged([
    "--workers",
    "1",
    "--schedule-periodic",
    "--data-store",
    dataStore,
    "--task-paths",
    EXAMPLE_JOBS,
  ]);
  const waiting = new RegExp(
    `WRN pq·store Waiting for the store "redis://127\\.0\\.0\\.1:${port}/0\\?namespace=pqtest": "Connection refused.*" \\(--store-wait bounds the wait\\)`,
  );
  await server.saw(waiting);
  // A few tries go by (0.5 s, 1 s, 2 s apart).
  await delay(2500);
  await using _redis = await startRedis({ port });
  await server.saw(/INF pq·store Connected to the store .* after [\d.]+ s/);
  await server.saw(/Worker \S+ consuming/);
  {
    await using api = await producerFor({ dataStore });
    const task = await api.tasks.queue("addition", { a: 4, b: 6 });
    assert.equal(task.result, 10);
  }
  assert.equal((await server.stop()).code, 0);
  assert.equal(server.count(/Waiting for the store/), 1, server.log());
  assert.equal(server.count(/Connected to the store/), 1, server.log());
});

Deno.test("--store-wait 1 with nothing listening exits 1 after a second with the reason and the bound; a client does not wait", async () => {
  const port = unusedPort();
  const dataStore = `redis://127.0.0.1:${port}/0`;
  const started = Date.now();
  const server = startLogged([
    "--store-wait",
    "1",
    "--data-store",
    dataStore,
    "--task-paths",
    EXAMPLE_JOBS,
  ]);
  const status = await server.status;
  const took = Date.now() - started;
  const log = server.log();
  assert.equal(status.code, 1, log);
  assert.match(
    log,
    new RegExp(
      `pq: Cannot connect to redis://127\\.0\\.0\\.1:${port}/0: Connection refused.*; gave up after waiting 1 s \\(--store-wait 1\\)`,
    ),
  );
  assert.equal(server.count(/Waiting for the store/), 1, log);
  assert.ok(took >= 1000, `exited after ${took} ms`);
  // A client fails at once, whatever storeWait says.
  const client = startLogged(["queues", "--data-store", dataStore], {
    PQ_STORE_WAIT: "forever",
  });
  const clientStarted = Date.now();
  assert.equal((await client.status).code, 1, client.log());
  assert.match(client.log(), /Cannot connect to redis:\/\/127\.0\.0\.1/);
  assert.doesNotMatch(client.log(), /Waiting for the store/);
  const clientTook = Date.now() - clientStarted;
  assert.ok(clientTook < 5000, `the client took ${clientTook} ms`);
});

Deno.test("a wrong password at start-up exits at once: it is not waited for", async () => {
  await using redis = await startRedis({ password: "s3cret" });
  const server = startLogged([
    "--data-store",
    redis.url().replace("s3cret", "wrong"),
    "--task-paths",
    EXAMPLE_JOBS,
  ]);
  const status = await server.status;
  assert.equal(status.code, 1, server.log());
  assert.match(
    server.log(),
    /pq: Cannot connect to redis:\/\/:\*\*\*@.*WRONGPASS/,
  );
  assert.doesNotMatch(server.log(), /Waiting for the store/);
});
