/**
 * The compiled `pq` binary (`deno task compile`): one file that is the
 * server, its worker processes and its CPUBOUND subprocesses, with the
 * Web Worker of THREAD_IO, the config and the jobs embedded.
 *
 * `deno compile` builds on a `denort` runtime it downloads; where it cannot
 * (our machines), the test of the binary runs only when `DENORT_BIN` points
 * at one, and says that it was skipped otherwise.
 */
import assert from "node:assert/strict";
import { compile, COMPILE_INCLUDES } from "../scripts/compile.ts";
import { frameMark, type RemoteDone } from "../src/consumer/remote_protocol.ts";
import { readLines } from "../src/_lines.ts";
import { SUBPROCESS_ARG } from "../src/server/self_command.ts";
import { TaskStatus } from "../src/status.ts";
import { eventually, startServer, tempDir } from "./_server.ts";

const ROOT = new URL("../", import.meta.url);
const DENORT_BIN = Deno.env.get("DENORT_BIN");
const SKIPPED = "skipped: DENORT_BIN is not set, and deno compile " +
  "cannot download its denort runtime here";

if (!DENORT_BIN) console.log(`compile_test.ts: the binary test is ${SKIPPED}`);

Deno.test("every file the binary embeds exists", async () => {
  for (const path of COMPILE_INCLUDES) {
    await Deno.stat(new URL(path, ROOT));
  }
});

/**
 * Runs `cli.ts <args>` as the binary runs itself for a CPUBOUND task, with
 * the task of job `name` on stdin; resolves with its exit code and its
 * `done` message (if it sent one).
 */
async function runChild(
  args: string[],
  name: string,
  kwargs: Record<string, unknown>,
): Promise<{ code: number; done?: RemoteDone; stderr: string }> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL("cli.ts", ROOT).pathname, ...args],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const nonce = crypto.randomUUID();
  const request = {
    type: "run",
    nonce,
    module: new URL("tests/fixtures/mode_jobs.ts", ROOT).href,
    task: {
      id: crypto.randomUUID().replaceAll("-", ""),
      name,
      queue: "pulsarqueue",
      status: TaskStatus.STARTED,
      timeQueued: Date.now() / 1000,
      delay: 0,
      retry: 1,
      kwargs,
      meta: {},
      runInfo: {},
    },
    kwargs,
    nodeName: "test",
    info: {},
  };
  // Stdin stays open until the result, as a worker keeps it: a child whose
  // worker went away exits.
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(JSON.stringify(request) + "\n"))
    .catch(() => undefined);
  const mark = frameMark(nonce);
  let done: RemoteDone | undefined;
  let stderr = "";
  const [status] = await Promise.all([
    child.status,
    readLines(child.stdout, (line) => {
      if (!line.startsWith(mark)) return;
      const message = JSON.parse(line.slice(mark.length));
      if (message.type !== "done") return;
      done = message;
      writer.close().catch(() => undefined);
    }),
    readLines(child.stderr, (line) => stderr += line + "\n"),
  ]);
  await writer.close().catch(() => undefined);
  return { code: status.code, done, stderr };
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

Deno.test({
  name: DENORT_BIN
    ? "the compiled binary runs tasks in every mode, from any folder"
    : `the compiled binary runs tasks in every mode (${SKIPPED})`,
  ignore: !DENORT_BIN,
  fn: async (t) => {
    await using dir = await tempDir();
    const program = `${dir.path}/pq`;
    const built = await compile(program, ["tests/fixtures/mode_jobs.ts"]);
    assert.ok(built.success, "deno compile failed");
    // A folder with nothing of the repository: jobs come from the binary.
    const cwd = `${dir.path}/run`;
    await Deno.mkdir(cwd);
    await Deno.writeTextFile(`${cwd}/input.txt`, "from disk");
    const taskPaths = "./examples/jobs/,./tests/fixtures/mode_jobs.ts";
    // `pq <args> --json` with the binary; resolves with what it printed.
    const pq = async (...args: string[]) => {
      const output = await new Deno.Command(program, {
        args: [...args, "--task-paths", taskPaths, "--json"],
        cwd,
        stdin: "null",
      }).output();
      const decoder = new TextDecoder();
      const stdout = decoder.decode(output.stdout);
      return {
        code: output.code,
        stderr: decoder.decode(output.stderr),
        json: stdout ? JSON.parse(stdout) : undefined,
      };
    };
    await using server = startServer(
      ["--workers", "1", "--task-paths", taskPaths],
      { program, cwd },
    );
    await eventually(
      async () => (await pq("workers")).json?.length === 1,
      30,
      "the binary's worker process",
    );

    await t.step("ASYNC_IO in its worker process", async () => {
      const run = await pq("queue", "addition", "a=4", "b=6", "--wait");
      assert.equal(run.code, 0, run.stderr);
      assert.equal(run.json.result, 10);
      assert.notEqual(run.json.worker, null);
    });

    await t.step("THREAD_IO in an embedded Web Worker", async () => {
      const run = await pq("queue", "read.text", "input=input.txt", "--wait");
      assert.equal(run.code, 0, run.stderr);
      assert.match(run.json.result.thread, /^pq-thread-\d+$/);
      assert.equal(run.json.result.text, "from disk");
    });

    await t.step("CPUBOUND in the binary run again", async () => {
      const run = await pq("queue", "cpubound", "--wait");
      assert.equal(run.code, 0, run.stderr);
      assert.deepEqual(run.json.result, ["OK", 2]);
    });

    await t.step("a CPUBOUND job given no permissions is denied", async () => {
      const run = await pq(
        "queue",
        "sandboxed.none",
        "path=input.txt",
        "--wait",
      );
      assert.equal(run.code, 1);
      assert.equal(run.json.statusString, "FAILURE");
      assert.match(String(run.json.exception), /^NotCapable/);
    });

    const status = await server.stop();
    assert.equal(status.code, 0, server.stderr());
  },
});
