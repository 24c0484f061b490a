/**
 * Credentials are never shown: a store URL's password is masked in the
 * server's log lines, in `pq` output and errors, and in error messages.
 */
import assert from "node:assert/strict";
import { waitFor } from "./_helpers.ts";
import { maskUrl } from "../src/model/_secrets.ts";
import { describeValue } from "../src/model/errors.ts";
import { startRedis } from "./_redis.ts";
import { EXAMPLE_JOBS } from "./_server.ts";

const CLI = new URL("../cli.ts", import.meta.url).pathname;
const SECRET = "s3cret-Pw";

Deno.test("maskUrl masks a URL's password and secret parameters only", () => {
  assert.equal(
    maskUrl(`redis://:${SECRET}@127.0.0.1:6411/0`),
    "redis://:***@127.0.0.1:6411/0",
  );
  assert.equal(
    maskUrl(`rediss://ada:${SECRET}@host:6380/1?namespace=pq`),
    "rediss://ada:***@host:6380/1?namespace=pq",
  );
  assert.equal(
    maskUrl(`http://127.0.0.1:8787/?token=${SECRET}`),
    "http://127.0.0.1:8787/?token=***",
  );
  assert.equal(maskUrl("redis://127.0.0.1:6379/0"), "redis://127.0.0.1:6379/0");
  assert.equal(maskUrl("sqlite:pq.sqlite"), "sqlite:pq.sqlite");
  assert.ok(!describeValue(`redis://:${SECRET}@h:1/0`).includes(SECRET));
});

async function run(args: string[]): Promise<string> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", CLI, ...args],
    env: { NO_COLOR: "1" },
    stdin: "null",
  }).output();
  const decoder = new TextDecoder();
  return decoder.decode(output.stdout) + decoder.decode(output.stderr);
}

Deno.test("a store password shows in no log line, pq output or error", async () => {
  await using redis = await startRedis({ password: SECRET });
  const url = redis.url();
  let server: Deno.ChildProcess | undefined;
  try {
    server = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        CLI,
        "--workers",
        "1",
        "--data-store",
        url,
        "--task-paths",
        EXAMPLE_JOBS,
      ],
      env: { NO_COLOR: "1" },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    let log = "";
    const decoder = new TextDecoder();
    const reading = (async () => {
      for await (const chunk of server.stdout) {
        log += decoder.decode(chunk, { stream: true });
      }
    })();
    const errors = (async () => {
      for await (const chunk of server.stderr) {
        log += decoder.decode(chunk, { stream: true });
      }
    })();
    await waitFor(() => /Worker \S+ consuming/.test(log), { timeout: 30_000 })
      .catch(() => undefined);
    assert.match(log, /Worker \S+ consuming/, log);
    const outputs = [
      await run([
        "queue",
        "addition",
        "a=1",
        "b=2",
        "--wait",
        "--data-store",
        url,
      ]),
      await run(["workers", "--data-store", url]),
      await run(["queues", "--json", "--data-store", url]),
      await run(["status", "f".repeat(32), "--data-store", url]),
      await run(["queues", "--data-store", `redis://:${SECRET}@127.0.0.1:1/0`]),
      await run(["queues", "--data-store", `redix://:${SECRET}@127.0.0.1/0`]),
    ];
    server.kill("SIGTERM");
    await server.status;
    await Promise.all([reading, errors]);
    server = undefined;
    assert.match(
      log,
      /:\*\*\*@127\.0\.0\.1/,
      "the start-up line names the store",
    );
    assert.match(outputs[0], /\b3\b/, outputs[0]);
    for (const text of [log, ...outputs]) {
      assert.ok(!text.includes(SECRET), `a password in:\n${text}`);
    }
  } finally {
    try {
      server?.kill("SIGKILL");
      await server?.status;
    } catch {
      // Exited already.
    }
  }
});
