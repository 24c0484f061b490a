/**
 * The compiled `pq` binary (`deno task compile`): one file that is the
 * server, its worker processes and its CPUBOUND subprocesses, with the
 * Web Worker of THREAD_IO, the config and the jobs embedded.
 *
 * `deno compile` builds on a `denort` runtime it downloads; where it cannot
 * (our machines), the test of the binary runs only when `DENORT_BIN` points
 * at one, and says that it was skipped otherwise. What the binary's
 * subprocess runs is tested everywhere, in subprocess_child_test.ts.
 */
import assert from "node:assert/strict";
import { compile, COMPILE_INCLUDES } from "../scripts/compile.ts";
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
