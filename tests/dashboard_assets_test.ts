/**
 * The dashboard's parts that need no browser: its route table, the files
 * it serves (every module the page imports, nothing else), the status
 * lists the page gets from the model, and the page's modules type-checked
 * as their own program (`tests/browser_check.jsonc`: the DOM's types,
 * every file checked).
 */
import assert from "node:assert/strict";
import {
  FINISHED_STATES,
  statusString,
  TaskStatus,
} from "../src/model/status.ts";
import { ASSETS, PAGE } from "../src/web/assets.ts";
import { jsonForScript, STATUS_LISTS } from "../src/web/page_statuses.ts";
import { findRoute, ROUTES } from "../src/web/route_table.ts";

const ASSETS_DIR = new URL("../src/web/assets/", import.meta.url);

Deno.test("the route table: one route a method and path, its parameters", () => {
  const cases: Array<[string, string, Record<string, string> | undefined]> = [
    ["GET", "/", {}],
    ["GET", "/assets/app.js", { file: "app.js" }],
    ["GET", "/api/tasks", {}],
    ["GET", "/api/tasks/abc", { id: "abc" }],
    ["POST", "/api/tasks/abc/revoke", { id: "abc" }],
    ["POST", "/api/tasks/abc/rerun", { id: "abc" }],
    ["GET", "/api/workflows/a%20b", { id: "a%20b" }],
    ["POST", "/api/queues/resume", {}],
    ["GET", "/api/jobs/a%2Fb", { name: "a%2Fb" }],
    ["POST", "/api/jobs/addition/queue", { name: "addition" }],
    ["GET", "/metrics", {}],
    // A read is not an action, nor the other way round.
    ["POST", "/api/tasks/abc", undefined],
    ["GET", "/api/tasks/abc/revoke", undefined],
    ["GET", "/api/tasks/", undefined],
    ["GET", "/assets/views/app.js", undefined],
  ];
  for (const [method, path, params] of cases) {
    assert.deepEqual(
      findRoute(method as "GET" | "POST", path)?.params,
      params,
      `${method} ${path}`,
    );
  }
  // No two routes of a method for one pattern.
  const keys = ROUTES.map((r) => `${r.method} ${r.pattern.pathname}`);
  assert.deepEqual(keys.length, new Set(keys).size);
});

Deno.test("the dashboard serves every module the page imports, and no other", async () => {
  const modules: string[] = [];
  for await (const entry of Deno.readDir(ASSETS_DIR)) {
    if (entry.name.endsWith(".js")) modules.push(entry.name);
  }
  const served = [...ASSETS.keys()].filter((name) => name.endsWith(".js"));
  // types.js is for the checker only: no module imports it at run time.
  assert.deepEqual(
    [...served, "types.js"].filter((n) => n !== "uplot.js").sort(),
    modules.sort(),
  );
  for (const name of modules) {
    const text = await Deno.readTextFile(new URL(name, ASSETS_DIR));
    for (const [, target] of text.matchAll(/^import .* from "\.\/(.+)";$/gm)) {
      assert.ok(ASSETS.has(target), `${name} imports ${target}: not served`);
    }
  }
  for (const [name, asset] of ASSETS) {
    assert.match(
      asset.type,
      name.endsWith(".css") ? /^text\/css/ : /^text\/javascript/,
    );
  }
});

Deno.test("the page gets the status lists of the model, escaped", () => {
  const names = (codes: Iterable<number>) => [...codes].map(statusString);
  assert.deepEqual(STATUS_LISTS.all, names(Object.values(TaskStatus)));
  assert.deepEqual(STATUS_LISTS.finished, names(FINISHED_STATES));
  assert.deepEqual(STATUS_LISTS.ended, [
    ...STATUS_LISTS.finished,
    "RETRY",
  ]);
  assert.ok(PAGE.body.includes(jsonForScript(STATUS_LISTS)));
  assert.ok(!PAGE.body.includes("PQ_STATUSES"));
  assert.equal(jsonForScript("</script>"), '"\\u003c/script>"');
  assert.match(PAGE.body, /<script type="module" src="\/assets\/app.js">/);
});

Deno.test("the page's modules type-check (DOM types, every file checked)", async () => {
  const config = new URL("./browser_check.jsonc", import.meta.url).pathname;
  const { code, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["check", "--config", config, ASSETS_DIR.pathname],
    stdout: "null",
    stderr: "piped",
  }).output();
  assert.equal(code, 0, new TextDecoder().decode(stderr));
});
