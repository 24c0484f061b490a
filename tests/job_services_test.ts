/**
 * What a job gets from its context besides the task: locks, the shell, and
 * the permissions of a sandboxed subprocess.
 */
import assert from "node:assert/strict";
import { LockError, ShellError } from "../mod.ts";
import { validateJobOptions } from "../src/model/job_options.ts";
import { acquireJobLock } from "../src/producer/job_lock.ts";
import { jobPermissionFlags } from "../src/model/job_permissions.ts";
import { runShell } from "../src/runtime/shell.ts";
import { openStore } from "../src/store/open_store.ts";
import { tempDir } from "./_server.ts";
import { delay, fileExists, processExited } from "./_helpers.ts";

async function memoryStore() {
  const store = await openStore("sqlite::memory:", {
    serializer: "json",
    resultTtl: 60,
  });
  return Object.assign(store, {
    [Symbol.asyncDispose]: () => store.close(),
  });
}

Deno.test("a lock is held by one holder at a time and freed on dispose", async () => {
  await using store = await memoryStore();
  {
    await using first = await acquireJobLock(store, "report");
    assert.equal(first.name, "report");
    await assert.rejects(
      acquireJobLock(store, "report", { wait: 0.3 }),
      (error: unknown) =>
        error instanceof LockError && /still held.*0\.3 s/.test(error.message),
    );
  }
  const again = await acquireJobLock(store, "report", { wait: 0 });
  await again.release();
  await again.release();
});

Deno.test("a waiting lock is taken as soon as its holder releases it", async () => {
  await using store = await memoryStore();
  const first = await acquireJobLock(store, "turn");
  setTimeout(() => first.release(), 300);
  const started = Date.now();
  const second = await acquireJobLock(store, "turn", { wait: 5 });
  assert.ok(Date.now() - started >= 250, "it waited for the release");
  await second.release();
});

Deno.test("a held lock is renewed past its timeout; a dead holder's expires", async () => {
  await using store = await memoryStore();
  const held = await acquireJobLock(store, "renewed", { timeout: 0.3 });
  // Past twice its timeout: renewed, else expired by now.
  await delay(700);
  await assert.rejects(
    acquireJobLock(store, "renewed", { wait: 0 }),
    LockError,
    "still held: its holder renews it",
  );
  await held.release();
  // A holder that never releases nor renews: the store lock just expires.
  assert.equal(await store.acquireLock("job:orphan", "dead", 0.3), true);
  await assert.rejects(acquireJobLock(store, "orphan", { wait: 0 }), LockError);
  const taken = await acquireJobLock(store, "orphan", { wait: 2 });
  await taken.release();
});

Deno.test("waiting for a lock stops when the signal aborts", async () => {
  await using store = await memoryStore();
  const held = await acquireJobLock(store, "busy");
  const signal = AbortSignal.timeout(200);
  await assert.rejects(
    acquireJobLock(store, "busy", { signal }),
    (error) => error instanceof DOMException && error.name === "TimeoutError",
  );
  await held.release();
});

Deno.test("bad lock options are errors that name the value", async () => {
  await using store = await memoryStore();
  await assert.rejects(
    acquireJobLock(store, "x", { timeout: -1 }),
    /'timeout' must be a number of seconds > 0: got -1/,
  );
  await assert.rejects(
    acquireJobLock(store, "x", { wait: -2 }),
    /'wait' must be a number of seconds >= 0: got -2/,
  );
  await assert.rejects(acquireJobLock(store, ""), /without a name/);
});

Deno.test("shell returns stdout, takes input, cwd and env", async () => {
  await using dir = await tempDir();
  assert.equal(await runShell("tr a-z A-Z", { input: "quiet" }), "QUIET");
  assert.equal(
    (await runShell("pwd", { cwd: dir.path })).trim(),
    await Deno.realPath(dir.path),
  );
  assert.equal(
    await runShell('printf %s "$PQ_SHELL_TEST"', {
      env: { PQ_SHELL_TEST: "from env" },
    }),
    "from env",
  );
});

Deno.test("shell raises ShellError with the exit code and stderr", async () => {
  const error = await runShell("echo out; echo bad >&2; exit 7").then(
    () => undefined,
    (error) => error,
  );
  assert.ok(error instanceof ShellError);
  assert.equal(error.code, 7);
  assert.equal(
    error.message,
    "Command exited with code 7: echo out; echo bad >&2; exit 7\nstderr: bad",
  );
  assert.equal(error.signal, null);
  assert.equal(error.stderr, "bad\n");
  assert.equal(error.stdout, "out\n");
  const quiet = await runShell("exit 3").catch((error) => error);
  assert.equal(quiet.message, "Command exited with code 3: exit 3");
  const killed = await runShell("kill -9 $$").catch((error) => error);
  assert.equal(killed.signal, "SIGKILL");
  assert.equal(killed.code, 137);
  await assert.rejects(runShell("  "), TypeError);
});

Deno.test("interactive shell logs each line as it comes", async () => {
  const lines: string[] = [];
  const logger = {
    info: (line: string) => lines.push(`out ${line}`),
    warn: (line: string) => lines.push(`err ${line}`),
  };
  const output = await runShell("echo one; echo two >&2; printf three", {
    interactive: true,
    logger,
  });
  assert.equal(output, "one\nthree");
  assert.deepEqual(lines.sort(), ["err two", "out one", "out three"]);
});

Deno.test("an aborted shell command is killed", async () => {
  await using dir = await tempDir();
  const marker = `${dir.path}/late`;
  const pidFile = `${dir.path}/pid`;
  const controller = new AbortController();
  const running = runShell(
    `echo $$ > ${pidFile}.new && mv ${pidFile}.new ${pidFile}; sleep 2; touch ${marker}`,
    { signal: controller.signal },
  );
  // Aborted once it runs (it wrote its shell's pid).
  await fileExists(pidFile);
  controller.abort(new Error("stop"));
  await assert.rejects(running, /stop/);
  // Its shell has exited, so it can no longer touch the marker.
  await processExited(Number(await Deno.readTextFile(pidFile)));
  assert.equal(await Deno.stat(marker).then(() => true, () => false), false);
});

Deno.test("job permissions become deno run flags", () => {
  assert.deepEqual(jobPermissionFlags("none"), []);
  assert.deepEqual(
    jobPermissionFlags({ read: ["./data", "/tmp"], net: true, env: false }),
    ["--allow-read=./data,/tmp", "--allow-net"],
  );
});

Deno.test("bad job permissions are rejected, naming the job", () => {
  const cpu = 4 as const;
  assert.throws(
    () => validateJobOptions("a", { permissions: "none" }),
    /Invalid option 'permissions' of job 'a': expected no permissions unless the job is CPUBOUND/,
  );
  assert.throws(
    () =>
      validateJobOptions("b", {
        concurrency: cpu,
        permissions: { disk: true } as never,
      }),
    /expected permission names among read, write/,
  );
  assert.throws(
    () =>
      validateJobOptions("c", {
        concurrency: cpu,
        permissions: { read: ["a,b"] },
      }),
    /true, false or a list of names for 'read'/,
  );
  assert.throws(
    () =>
      validateJobOptions("d", {
        concurrency: cpu,
        permissions: "all" as never,
      }),
    /"none" or an object of permissions/,
  );
});

Deno.test("a job never gets a permission its worker does not hold", async () => {
  await using dir = await tempDir();
  const script = `${dir.path}/probe.ts`;
  const permissions =
    new URL("../src/runtime/permissions.ts", import.meta.url).href;
  await Deno.writeTextFile(
    script,
    `import { missingFromParent } from "${permissions}";
console.log(JSON.stringify([
  missingFromParent({ read: ["${dir.path}"] }) ?? null,
  missingFromParent({ read: ["/etc"] }) ?? null,
  missingFromParent({ net: true }) ?? null,
  missingFromParent("none") ?? null,
]));`,
  );
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--no-prompt", `--allow-read=${dir.path}`, script],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stderr = new TextDecoder().decode(output.stderr);
  assert.equal(output.success, true, stderr);
  assert.deepEqual(JSON.parse(new TextDecoder().decode(output.stdout)), [
    null,
    "read of /etc",
    "net (all)",
    null,
  ]);
});
