/**
 * The built-in jobs of "@pq/queue/jobs" (pulsar-queue's execute.python
 * tests, for Deno).
 */
import assert from "node:assert/strict";
import { PulsarQueue, ShellError } from "../mod.ts";
import { runShell } from "../src/runtime/shell.ts";
import { tempDir } from "./_server.ts";

const JOBS = new URL("../src/jobs/mod.ts", import.meta.url).pathname;
const SHELL_JOBS = new URL("./fixtures/shell_jobs.ts", import.meta.url)
  .pathname;

async function api() {
  return await new PulsarQueue({
    taskPaths: [JOBS, SHELL_JOBS],
    dataStore: "sqlite::memory:",
  }).api().start();
}

Deno.test("execute.deno runs code and returns its stdout", async () => {
  await using producer = await api();
  const task = await producer.tasks.execute("execute.deno", {
    code: 'console.log("Hello World!")',
  });
  assert.equal(task.statusString, "SUCCESS");
  assert.equal(task.result, "Hello World!\n");
});

Deno.test("execute.deno gives no permissions unless asked", async () => {
  await using producer = await api();
  const code = 'console.log(Deno.readTextFileSync("/etc/hostname").length > 0)';
  const denied = await producer.tasks.execute("execute.deno", { code });
  assert.equal(denied.statusString, "FAILURE");
  assert.match(
    String(denied.result),
    /NotCapable|PermissionDenied|--allow-read/,
  );
  const allowed = await producer.tasks.execute("execute.deno", {
    code,
    allow: ["read=/etc/hostname"],
  });
  assert.equal(allowed.result, "true\n");
});

Deno.test("execute.deno.script runs a script file", async () => {
  await using dir = await tempDir();
  const script = `${dir.path}/script.ts`;
  await Deno.writeTextFile(
    script,
    "Deno.stdout.writeSync(new TextEncoder().encode('done'))",
  );
  await using producer = await api();
  const task = await producer.tasks.execute("execute.deno.script", { script });
  assert.equal(task.statusString, "SUCCESS");
  assert.equal(task.result, "done");
  const missing = await producer.tasks.execute("execute.deno.script", {
    script: `${dir.path}/none.ts`,
  });
  assert.equal(missing.statusString, "FAILURE");
  assert.match(String(missing.result), /No script file/);
});

Deno.test("built-in jobs reject bad arguments with the reason", async () => {
  await using producer = await api();
  await assert.rejects(
    Promise.resolve(
      producer.tasks.execute("execute.deno", {
        code: "1",
        allow: ["everything"],
      }),
    ),
    {
      name: "TypeError",
      message: /Invalid arguments for job 'execute.deno': allow.0/,
    },
  );
});

Deno.test("a failed shell job's error says the exit code, the command and the end of stderr", async () => {
  await using producer = await api();
  const task = await producer.tasks.execute("shell.fails");
  assert.equal(task.statusString, "FAILURE");
  const lines = String(task.result).split("\n");
  assert.match(
    lines[0],
    /^Command exited with code 7: for i in \$\(seq 1 30\)/,
  );
  assert.equal(lines[1], "stderr (last 10 of 30 lines):");
  assert.deepEqual(
    lines.slice(2),
    Array.from({ length: 10 }, (_, i) => `problem ${21 + i}`),
  );
});

Deno.test("a failed shell command of many lines is quoted by its first line", async () => {
  const error = await runShell("true\nexit 4").catch((error) => error);
  assert.ok(error instanceof ShellError);
  assert.equal(error.message, "Command exited with code 4: true…");
});

Deno.test("a shell job killed by a signal says which", async () => {
  await using producer = await api();
  const task = await producer.tasks.execute("shell.killed");
  assert.equal(task.statusString, "FAILURE");
  assert.equal(
    task.result,
    "Command was killed by SIGKILL (exit code 137): echo going; kill -9 $$\n" +
      "stdout: going",
  );
});

Deno.test("a failed execute.deno says Deno's exit code and the end of its stderr", async () => {
  await using producer = await api();
  const task = await producer.tasks.execute("execute.deno", {
    code: 'console.error("first"); console.error("broken"); Deno.exit(3)',
  });
  assert.equal(task.statusString, "FAILURE");
  assert.equal(
    task.result,
    "Deno exited with code 3 running the code\nstderr:\nfirst\nbroken",
  );
});
