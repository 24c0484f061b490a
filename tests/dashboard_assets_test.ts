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
import { retryId } from "../src/web/routes/bulk.ts";
import { countersOf } from "../src/web/live.ts";
import { plural, uptime } from "../src/web/assets/format.js";
import { taskError } from "../src/web/task_view.ts";
import { TASK_ID_PATTERN, type TaskRecord } from "../src/model/task.ts";

const ASSETS_DIR = new URL("../src/web/assets/", import.meta.url);

Deno.test("the route table: one route a method and path, its parameters", () => {
  const cases: Array<[string, string, Record<string, string> | undefined]> = [
    ["GET", "/", {}],
    ["GET", "/assets/app.js", { file: "app.js" }],
    ["GET", "/api/tasks", {}],
    ["GET", "/api/tasks/abc", { id: "abc" }],
    ["POST", "/api/tasks/abc/revoke", { id: "abc" }],
    ["POST", "/api/tasks/abc/rerun", { id: "abc" }],
    ["POST", "/api/tasks/retry", {}],
    ["POST", "/api/tasks/delete", {}],
    ["POST", "/api/tasks/revoke", {}],
    ["GET", "/api/history", {}],
    ["GET", "/api/tasks/retry", { id: "retry" }],
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
      name.endsWith(".css")
        ? /^text\/css/
        : name.endsWith(".svg")
        ? /^image\/svg\+xml$/
        : /^text\/javascript/,
    );
  }
  // The icon the page links to is served.
  assert.match(
    PAGE.body,
    /<link rel="icon" [^>]*href="\/assets\/favicon.svg">/,
  );
  assert.ok(ASSETS.get("favicon.svg")?.body.startsWith("<svg"));
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

Deno.test("a bulk retry's copy has one id per failed task, within 128 characters", () => {
  assert.equal(retryId("0195ab"), "0195ab-r1");
  assert.equal(retryId("0195ab-r1"), "0195ab-r2");
  assert.equal(retryId("job-r9"), "job-r10");
  // A caller's id that merely looks like one: still one more step.
  assert.equal(retryId("car-rental"), "car-rental-r1");
  const long = "x".repeat(128);
  assert.equal(retryId(long).length, 128);
  assert.match(retryId(long), /-r1$/);
  assert.ok(TASK_ID_PATTERN.test(retryId(long)));
  assert.equal(retryId(retryId(long)), retryId(long).replace(/-r1$/, "-r2"));
});

Deno.test("the counters header: the store's totals and the queues' sizes", () => {
  const history = {
    totals: { SUCCESS: 7, FAILURE: 2, RETRY: 3 },
    minutes: [],
  };
  const queue = (ready: number, delayed: number, running: number) => ({
    queue: "q",
    ready,
    delayed,
    running,
    latency: 0,
  });
  assert.deepEqual(countersOf(history, [queue(1, 2, 3), queue(10, 20, 30)]), {
    processed: 9,
    failed: 2,
    retried: 3,
    revoked: 0,
    running: 33,
    scheduled: 22,
    queued: 11,
  });
});

Deno.test("a task's error in a list: its exception, else its result, cut", () => {
  const record = (
    status: TaskRecord["status"],
    more: Partial<TaskRecord>,
  ): TaskRecord => ({
    id: "t",
    name: "j",
    queue: "q",
    status,
    timeQueued: 0,
    delay: 0,
    retry: 1,
    kwargs: {},
    meta: {},
    runInfo: {},
    ...more,
  });
  assert.equal(
    taskError(
      record(TaskStatus.FAILURE, { exception: "Error: no", result: "x" }),
    ),
    "Error: no",
  );
  assert.equal(
    taskError(record(TaskStatus.REVOKED, { result: "revoked" })),
    '"revoked"',
  );
  assert.equal(taskError(record(TaskStatus.SUCCESS, { result: "fine" })), null);
  const long = taskError(
    record(TaskStatus.FAILURE, { exception: "e".repeat(999) }),
  )!;
  assert.equal(long.length, 300);
  assert.ok(long.endsWith("…"));
});

Deno.test("the page writes uptimes in whole units and counts with their noun", () => {
  assert.equal(uptime(45.2), "45 s");
  assert.equal(uptime(116.6), "1 m 56 s");
  assert.equal(uptime(3 * 3600 + 125), "3 h 2 m");
  assert.equal(uptime(2 * 86400 + 5 * 3600), "2 d 5 h");
  assert.equal(uptime(undefined), "-");
  assert.equal(plural(1, "task"), "1 task");
  assert.equal(plural(12, "task"), "12 tasks");
  assert.equal(plural(1234, "task"), "1,234 tasks");
});
