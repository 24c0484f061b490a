/**
 * The CPUBOUND subprocess, spoken to as a worker speaks to it: run as a
 * compiled binary runs itself (`cli.ts --pq-subprocess`, with the job's
 * permissions revoked after import), and with the Manager of the config
 * module made in it (role `child`).
 */
import assert from "node:assert/strict";
import { readLines } from "../src/model/_lines.ts";
import type { RemoteDone, RemoteLog } from "../src/run/remote_protocol.ts";
import { frameMark } from "../src/run/remote_protocol.ts";
import { SUBPROCESS_ARG } from "../src/run/child_command.ts";
import { resolveSettings } from "../src/runtime/settings.ts";
import { TaskStatus } from "../src/model/status.ts";
import { newTaskId, standInRecord } from "../src/model/task.ts";
import { tempDir } from "./_server.ts";

const ROOT = new URL("../", import.meta.url);

/** What a child did. */
interface ChildRun {
  code: number;
  /** Its `done` message, if it sent one. */
  done?: RemoteDone;
  /** What it printed with `console`, and `(done)` for its result, in order. */
  output: string[];
  stderr: string;
}

/**
 * Runs `cli.ts <args>` as the binary runs itself for a CPUBOUND task, with
 * the task of job `name` on stdin (and the config module `manager` names,
 * whose Manager the child makes).
 */
async function runChild(
  args: string[],
  name: string,
  kwargs: Record<string, unknown>,
  manager?: string,
): Promise<ChildRun> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL("cli.ts", ROOT).pathname, ...args],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const nonce = crypto.randomUUID();
  const now = Date.now() / 1000;
  const request = {
    type: "run",
    nonce,
    module: new URL("tests/fixtures/mode_jobs.ts", ROOT).href,
    task: {
      ...standInRecord({ id: newTaskId(), name, queue: "pulsarqueue" }, now),
      status: TaskStatus.STARTED,
      kwargs,
    },
    kwargs,
    nodeName: "test",
    info: {},
    manager: manager && {
      module: new URL(manager, ROOT).href,
      settings: (await resolveSettings({
        args: ["--default-task-queue", "fromworker"],
        env: {},
      })).settings,
    },
  };
  // Stdin stays open until the result, as a worker keeps it: a child whose
  // worker went away exits.
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(JSON.stringify(request) + "\n"))
    .catch(() => undefined);
  const mark = frameMark(nonce);
  let done: RemoteDone | undefined;
  const output: string[] = [];
  let stderr = "";
  const [status] = await Promise.all([
    child.status,
    readLines(child.stdout, (line) => {
      if (!line.startsWith(mark)) return;
      const message = JSON.parse(line.slice(mark.length));
      if (message.type === "log") {
        output.push(String((message as RemoteLog).properties?.output));
      }
      if (message.type !== "done") return;
      done = message;
      output.push("(done)");
      writer.close().catch(() => undefined);
    }),
    readLines(child.stderr, (line) => stderr += line + "\n"),
  ]);
  await writer.close().catch(() => undefined);
  return { code: status.code, done, output, stderr };
}

Deno.test("the binary's CPUBOUND child (cli.ts --pq-subprocess)", async (t) => {
  await using dir = await tempDir();
  const path = `${dir.path}/input.txt`;
  await Deno.writeTextFile(path, "from disk");

  await t.step("runs the task with the binary's permissions", async () => {
    const run = await runChild([SUBPROCESS_ARG], "sandboxed.none", { path });
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(run.done && { ok: run.done.ok }, { ok: true });
    assert.equal(run.done?.ok && run.done.result, "from disk");
  });

  await t.step("drops every permission a job was not given", async () => {
    for (
      const permissions of ['"none"', '{"env":true}', '{"read":[]}']
    ) {
      const run = await runChild(
        [SUBPROCESS_ARG, `--permissions=${permissions}`],
        "sandboxed.none",
        { path },
      );
      assert.equal(run.code, 0, run.stderr);
      assert.equal(run.done?.ok, false, permissions);
      if (run.done?.ok === false) {
        assert.equal(run.done.error.name, "NotCapable");
        assert.match(run.done.error.message, /Requires read access/);
      }
    }
    const allowed = await runChild(
      [SUBPROCESS_ARG, '--permissions={"read":true}'],
      "sandboxed.none",
      { path },
    );
    assert.equal(allowed.done?.ok, true, allowed.stderr);
  });

  await t.step("bad permissions exit 2 saying why", async () => {
    for (
      const [args, message] of [
        [["--permissions=nope"], /takes only --permissions=<json>/],
        [['--permissions={"disk":true}'], /permission names among read/],
        [["--other"], /takes only --permissions=<json>/],
      ] as const
    ) {
      const run = await runChild([SUBPROCESS_ARG, ...args], "sandboxed.none", {
        path,
      });
      assert.equal(run.code, 2);
      assert.equal(run.done, undefined);
      assert.match(run.stderr, message);
    }
  });
});

Deno.test("a CPUBOUND child makes the config module's Manager", async (t) => {
  await using dir = await tempDir();
  const path = `${dir.path}/input.txt`;
  await Deno.writeTextFile(path, "from disk");
  const config = "tests/fixtures/child_manager_config.ts";

  await t.step("started before the job, closed after it", async () => {
    for (const args of [[], ['--permissions={"read":true}']]) {
      const run = await runChild(
        [SUBPROCESS_ARG, ...args],
        "sandboxed.none",
        { path },
        config,
      );
      assert.equal(run.code, 0, run.stderr);
      assert.equal(run.done?.ok, true, JSON.stringify(run.done));
      assert.deepEqual(run.output, [
        "start child fromworker",
        "(done)",
        "close child",
      ]);
    }
  });

  await t.step("a Manager that cannot start fails the task", async () => {
    const run = await runChild(
      [SUBPROCESS_ARG],
      "sandboxed.none",
      { path },
      "tests/fixtures/failing_manager_config.ts",
    );
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.done?.ok, false);
    if (run.done?.ok === false) {
      assert.equal(run.done.error.message, "the audit database is down");
    }
  });

  await t.step("a config module without a Manager makes none", async () => {
    const run = await runChild(
      [SUBPROCESS_ARG],
      "sandboxed.none",
      { path },
      "pq.config.ts",
    );
    assert.equal(run.done?.ok, true, run.stderr);
    assert.deepEqual(run.output, ["(done)"]);
  });
});
