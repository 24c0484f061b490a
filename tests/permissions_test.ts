/**
 * pq runs with only what it needs: the `default` permission set of
 * deno.json (`deno run -P`), for the server, its workers and the quick start.
 */
import assert from "node:assert/strict";
import { eventually } from "./_server.ts";

const ROOT = new URL("../", import.meta.url).pathname;

function denoP(args: string[], env: Record<string, string>) {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-P", "--no-prompt", ...args],
    cwd: ROOT,
    env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  });
}

Deno.test("the quick start runs under the default permission set (deno run -P)", async () => {
  // The default set writes ./pq.sqlite only: a queue of this test's own
  // keeps it apart from anything else on that store.
  const queue = `permtest${crypto.randomUUID().slice(0, 8)}`;
  const env = { PQ_TASK_QUEUES: queue, PQ_DEFAULT_TASK_QUEUE: queue };
  const created =
    !(await Deno.stat(`${ROOT}pq.sqlite`).then(() => true, () => false));
  const server = denoP(["cli.ts", "--workers", "1"], env).spawn();
  let output = "";
  const read = async (stream: ReadableStream<Uint8Array>) => {
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
      output += chunk;
    }
  };
  const reading = Promise.all([read(server.stdout), read(server.stderr)]);
  try {
    await eventually(() => output.includes("consuming"), 30, "the worker");
    const quickstart = await denoP(["examples/quickstart.ts"], env).output();
    const out = new TextDecoder().decode(quickstart.stdout);
    assert.equal(
      quickstart.success,
      true,
      new TextDecoder().decode(quickstart.stderr),
    );
    assert.match(out, /^10 SUCCESS task\.addition<[0-9a-f]{32}><SUCCESS>$/m);
    assert.match(out, /^SUCCESS started 2\.\d\d s after queued$/m);
    assert.doesNotMatch(output, /NotCapable|Requires .* access/);
    // A Web Worker of that server is as narrow as the server.
    const outside = await denoP([
      "cli.ts",
      "queue",
      "read.text",
      "input=/etc/hostname",
      "--wait",
      "--json",
    ], env).output();
    const reply = new TextDecoder().decode(outside.stdout);
    assert.equal(outside.code, 1, reply);
    assert.match(reply, /Requires read access to \\?"\/etc\/hostname/);
  } finally {
    server.kill("SIGTERM");
    const status = await server.status;
    await reading;
    assert.equal(status.code, 0, output);
    if (created) {
      for (const suffix of ["", "-wal", "-shm"]) {
        await Deno.remove(`${ROOT}pq.sqlite${suffix}`).catch(() => {});
      }
    }
  }
});
