/**
 * What a server says in its log, read from its stdout as an operator does:
 * counts in good English ("1 task", "1 worker process").
 */
import assert from "node:assert/strict";
import { EXAMPLE_JOBS, pq, serverArgs, tempDir } from "./_server.ts";
import { eventually } from "./_helpers.ts";

const CLI = new URL("../cli.ts", import.meta.url).pathname;

/** A server whose stdout (its log) is kept. */
function loggingServer(args: string[]) {
  const process = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", CLI, ...args],
    env: { NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let log = "";
  const decoder = new TextDecoder();
  const read = async (stream: ReadableStream<Uint8Array>) => {
    for await (const chunk of stream) {
      log += decoder.decode(chunk, { stream: true });
    }
  };
  const reading = Promise.all([read(process.stdout), read(process.stderr)]);
  let stopped: Promise<Deno.CommandStatus> | undefined;
  const stop = () =>
    stopped ??= (async () => {
      try {
        process.kill("SIGTERM");
      } catch {
        // Exited already.
      }
      const status = await process.status;
      await reading;
      return status;
    })();
  return {
    log: () => log,
    stop,
    async [Symbol.asyncDispose]() {
      await stop();
    },
  };
}

Deno.test("a server that ran one task says '1 task' and '1 worker process', not '1 tasks'", async () => {
  await using dir = await tempDir();
  const store = `sqlite:${dir.path}/pq.sqlite`;
  await using server = loggingServer(serverArgs({
    workers: 1,
    maxRequests: 1,
    dataStore: store,
    taskPaths: EXAMPLE_JOBS,
  }));
  await eventually(() => /Worker \S+ consuming/.test(server.log()), 60);
  const run = await pq(store, "queue", "addition", "a=1", "b=2", "--wait");
  assert.equal(run.code, 0, run.stderr);
  // The worker process stops after its one task (--max-requests 1).
  await eventually(() => /stopped after 1 task\b/.test(server.log()), 60);
  const status = await server.stop();
  assert.ok(status.success, server.log());
  const log = server.log();
  assert.match(log, /Processed 1 task: stop claiming/);
  assert.match(log, /Worker \S+ stopped after 1 task\b/);
  assert.match(log, /Stopping 1 worker process\b/);
  assert.doesNotMatch(log, /\b1 (tasks|worker processes)\b/);
});
