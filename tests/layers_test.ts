/** The layer check of scripts/check_layers.ts finds what it is for. */
import assert from "node:assert/strict";
import { layerProblems } from "../scripts/check_layers.ts";

const graph = (edges: Record<string, string[]>) =>
  new Map(Object.entries(edges).map(([from, to]) => [from, new Set(to)]));

Deno.test("the layer check finds upward imports, cycles and strays", () => {
  const problems = layerProblems(
    graph({
      "src/job.ts": ["src/periodic.ts"],
      "src/periodic.ts": ["src/job.ts"],
      "src/manager.ts": ["src/store/store.ts"],
      "src/store/store.ts": ["src/task.ts"],
      "src/task.ts": [],
      "src/run/subprocess.ts": ["src/server/self_command.ts"],
      "src/server/self_command.ts": [],
      "src/stray/x.ts": [],
    }),
    ["src/stray/x.ts"],
  );
  assert.deepEqual(problems.sort(), [
    "import cycle: src/job.ts → src/periodic.ts",
    "src/manager.ts (model) imports src/store/store.ts (storing): a higher layer",
    "src/run/subprocess.ts (running) imports src/server/self_command.ts (serving): a higher layer",
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
        "src/run/run_task.ts": ["src/task.ts"],
        "src/store/store.ts": ["src/task.ts"],
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
