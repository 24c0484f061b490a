/**
 * `ctx.http`, a job's `fetch` that is aborted when its task times out or is
 * revoked: a job of a pq server fetches from a local HTTP server, on the
 * embedded store and on Redis.
 */
import assert from "node:assert/strict";
import { TaskStatus } from "../mod.ts";
import { startRedis } from "./_redis.ts";
import {
  eventually,
  producerFor,
  serverArgs,
  startServer,
  tempDir,
} from "./_server.ts";

const HTTP_JOBS = new URL("./fixtures/http_jobs.ts", import.meta.url)
  .pathname;

/** The body `/text` answers with. */
const TEXT = "hello from 127.0.0.1";

/** A request to `/hang`, which is never answered. */
interface Hanging {
  url: string;
  /** The server has the request. */
  arrived: boolean;
  /** Its client went away before an answer. */
  gone: boolean;
}

/**
 * An HTTP server on 127.0.0.1 and a free port: `/text` answers with
 * {@linkcode TEXT}, `/hang?key=<key>` never answers, and tells when its
 * client goes away.
 */
function localServer() {
  const hanging = new Map<string, Hanging>();
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    (request) => {
      const url = new URL(request.url);
      if (url.pathname === "/text") return new Response(TEXT);
      const hang = hanging.get(url.searchParams.get("key") ?? "");
      if (!hang) return new Response(null, { status: 404 });
      hang.arrived = true;
      // No answer: the request ends when its client aborts it (the signal
      // aborts then, as no response was sent; Deno notes once that, by its
      // legacy behaviour, it would also abort after a response).
      return new Promise<Response>((resolve) => {
        request.signal.addEventListener("abort", () => {
          hang.gone = true;
          resolve(new Response(null, { status: 499 }));
        }, { once: true });
      });
    },
  );
  const base = `http://127.0.0.1:${server.addr.port}`;
  return {
    text: `${base}/text`,
    /** A new request to `/hang`, to be made by a job. */
    hang(key: string): Hanging {
      const hang = {
        url: `${base}/hang?key=${key}`,
        arrived: false,
        gone: false,
      };
      hanging.set(key, hang);
      return hang;
    },
    [Symbol.asyncDispose]: () => server.shutdown(),
  };
}

/** Runs the steps against a server on `dataStore`. */
async function httpSuite(
  t: Deno.TestContext,
  dataStore: string,
): Promise<void> {
  await using http = localServer();
  await using server = startServer(serverArgs({
    workers: 1,
    dataStore,
    taskPaths: HTTP_JOBS,
    taskPoolTimeout: 0.05,
    // Leases renewed every second: a revoke reaches a running job fast.
    leaseTimeout: 3,
    logLevel: "error",
  }));
  await using api = await producerFor({ dataStore, taskPaths: [HTTP_JOBS] });

  await t.step("a fetch returns the body as the task's result", async () => {
    const task = await api.tasks.queue("http.text", { url: http.text });
    assert.equal(task.statusString, "SUCCESS", String(task.result));
    assert.equal(task.result, TEXT);
  });

  await t.step(
    "a timeout aborts the fetch: the task ends REVOKED at once, and the server sees the request aborted",
    async () => {
      const hang = http.hang("timeout");
      const task = await api.tasks.queue("http.text", { url: hang.url }, {
        timeout: 1,
      });
      assert.equal(task.statusString, "REVOKED", String(task.result));
      assert.match(String(task.result), /Timed out/);
      assert.ok(hang.arrived, "the server had the request");
      // Ended by its timeout, not by a lease or the end of the job.
      const took = task.timeEnded! - task.timeQueued;
      assert.ok(took >= 1 && took < 5, `ended after ${took} s`);
      await eventually(() => hang.gone, 5, "the request aborted");
    },
  );

  await t.step(
    "a revoke aborts a running fetch, and the server sees the request aborted",
    async () => {
      const hang = http.hang("revoke");
      const future = api.tasks.queue("http.text", { url: hang.url });
      await eventually(() => hang.arrived, 20, "the request");
      assert.equal(await api.tasks.revoke(future.id), "requested");
      const task = await future;
      assert.equal(task.status, TaskStatus.REVOKED, String(task.result));
      await eventually(() => hang.gone, 5, "the request aborted");
    },
  );

  assert.equal((await server.stop()).code, 0);
}

Deno.test("ctx.http on the embedded store", async (t) => {
  await using dir = await tempDir();
  await httpSuite(t, `sqlite:${dir.path}/pq.sqlite`);
});

Deno.test("ctx.http on Redis", async (t) => {
  await using redis = await startRedis();
  await httpSuite(t, redis.url());
});
