/** The layer check of scripts/check_layers.ts finds what it is for. */
import assert from "node:assert/strict";
import { layerProblems } from "../scripts/check_layers.ts";

const graph = (edges: Record<string, string[]>) =>
  new Map(Object.entries(edges).map(([from, to]) => [from, new Set(to)]));

Deno.test("the layer check finds upward imports, cycles and strays", () => {
  const problems = layerProblems(
    graph({
      "src/model/job_options.ts": ["src/model/periodic.ts"],
      "src/model/periodic.ts": ["src/model/job_options.ts"],
      "src/model/task.ts": ["src/runtime/shell.ts"],
      "src/runtime/shell.ts": [],
      "src/store/store.ts": ["src/runtime/manager.ts"],
      "src/runtime/manager.ts": ["src/store/store.ts"],
      "src/run/subprocess.ts": ["src/server/self_command.ts"],
      "src/server/self_command.ts": [],
      "src/stray/x.ts": [],
    }),
    ["src/stray/x.ts"],
  );
  assert.deepEqual(problems.sort(), [
    "import cycle: src/model/job_options.ts → src/model/periodic.ts",
    "import cycle: src/runtime/manager.ts → src/store/store.ts",
    "src/model/task.ts (model) imports src/runtime/shell.ts (runtime): a higher layer",
    "src/run/subprocess.ts (running) imports src/server/self_command.ts (serving): a higher layer",
    "src/store/store.ts (storing) imports src/runtime/manager.ts (runtime): a higher layer",
    "src/stray/x.ts: in no layer",
  ]);
});

Deno.test("the layer check passes imports down the layers", () => {
  assert.deepEqual(
    layerProblems(
      graph({
        "cli.ts": ["src/app.ts", "src/cli/commands.ts"],
        "src/app.ts": ["src/server/worker.ts"],
        "src/server/worker.ts": ["src/consumer/consumer.ts"],
        "src/consumer/consumer.ts": [
          "src/run/run_task.ts",
          "src/store/store.ts",
        ],
        "src/run/run_task.ts": ["src/runtime/job.ts", "src/model/task.ts"],
        "src/runtime/job.ts": ["src/model/task.ts"],
        "src/runtime/managed_store.ts": ["src/store/store.ts"],
        "src/store/store.ts": ["src/model/task.ts"],
        "src/model/task.ts": [],
      }),
      [],
    ),
    [],
  );
});

Deno.test("pq's own modules keep to their layers", async () => {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-read", "--allow-run", "scripts/check_layers.ts"],
    cwd: new URL("..", import.meta.url),
  }).output();
  const text = new TextDecoder().decode(output.stdout) +
    new TextDecoder().decode(output.stderr);
  assert.ok(output.success, text);
  assert.match(text, /no upward import, no cycle/);
});
