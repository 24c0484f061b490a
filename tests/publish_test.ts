/**
 * The package ships what users import and nothing else: `mod.ts`, `cli.ts`,
 * `src/` (with the Lua scripts of the Redis store and the dashboard's page,
 * script and styles), the README and the pages of `docs/` it links (with
 * their screenshots), the LICENSE and the manifest; no tests, benchmarks,
 * scripts or examples.
 */
import assert from "node:assert/strict";

Deno.test("deno publish --dry-run lists only the runtime files", async () => {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["publish", "--dry-run", "--allow-dirty"],
    cwd: new URL("..", import.meta.url),
    env: { NO_COLOR: "1" },
  }).output();
  const text = new TextDecoder().decode(output.stdout) +
    new TextDecoder().decode(output.stderr);
  assert.ok(output.success, text);
  const root = new URL("..", import.meta.url).href;
  const files = [...text.matchAll(/^\s+(file:\/\/\S+)/gm)].map(([, url]) =>
    url.slice(root.length)
  );
  assert.ok(files.length > 0, `no file listed:\n${text}`);
  const runtime =
    /^(mod\.ts|cli\.ts|deno\.json|README\.md|LICENSE|src\/.+\.(ts|lua)|src\/web\/assets\/\w+\.(html|js|css)|docs\/\w+\.md|docs\/screenshots\/\w+\.png)$/;
  assert.deepEqual(files.filter((file) => !runtime.test(file)), []);
  for (
    const entry of [
      "mod.ts",
      "cli.ts",
      "src/jobs/mod.ts",
      "src/store/redis/lua/claim.lua",
      "src/web/assets/app.js",
      "README.md",
      "docs/settings.md",
      "docs/screenshots/overview.png",
    ]
  ) {
    assert.ok(files.includes(entry), `${entry} is published`);
  }
});
