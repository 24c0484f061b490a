/**
 * `pq dashboard` in a real browser (Debian's chromium through
 * playwright-core), on both stores: a pq server and the dashboard run in
 * their own processes on free ports; the page is driven as a person would.
 * Each view's screenshot is taken (SQLite run), and saved under
 * docs/screenshots/ when `PQ_SCREENSHOTS=1`, else in a temporary folder: a
 * test run leaves the checkout as it was.
 */
import assert from "node:assert/strict";
import { delay } from "./_helpers.ts";
import type { Page } from "playwright-core";
import { chain, group, sig, TaskStatus } from "../mod.ts";
import { RateWindow } from "../src/web/rate_window.ts";
import {
  launchBrowser,
  requireChromium,
  startDashboardProcess,
} from "./_browser.ts";
import { startRedis } from "./_redis.ts";
import { playPastHour } from "./_past_hour.ts";
import {
  eventually,
  EXAMPLE_JOBS,
  producerFor,
  serverArgs,
  startServer,
  tempDir,
} from "./_server.ts";

const TOKEN = "test-token-" + crypto.randomUUID();
const XSS = "<img src=x onerror=alert(1)>";
const KEEP_SCREENSHOTS = Deno.env.get("PQ_SCREENSHOTS") === "1";
const SCREENSHOTS = KEEP_SCREENSHOTS
  ? new URL("../docs/screenshots/", import.meta.url).pathname
  : `${await Deno.makeTempDir({ prefix: "pq_screens_" })}/`;
if (!KEEP_SCREENSHOTS) {
  globalThis.addEventListener(
    "unload",
    () => Deno.removeSync(SCREENSHOTS, { recursive: true }),
  );
}
const MOD = new URL("../mod.ts", import.meta.url).href;

/**
 * A job module of the test: `echo` takes any kwargs and returns them;
 * `boom` always fails (2 runs: RETRY, then FAILURE), with options for its
 * page to show.
 */
async function writeJobs(dir: string): Promise<string> {
  const path = `${dir}/echo_jobs.ts`;
  await Deno.writeTextFile(
    path,
    `import { job } from ${JSON.stringify(MOD)};\n` +
      `export const echo = job(function echo(_ctx, kwargs: Record<string, unknown>) {\n` +
      `  return kwargs;\n});\n` +
      `export const boom = job({ name: "boom", maxRetries: 2, ` +
      `retryDelay: { type: "exponential", base: 0.1, max: 1 }, ` +
      `rateLimit: { tasks: 1000, per: 1 }, maxConcurrency: 50 }, ` +
      `function boom(_ctx, kwargs: Record<string, unknown>) {\n` +
      `  throw new Error("boom " + kwargs.n + " ${XSS}");\n});\n` +
      `export const elsewhere = job({ name: "elsewhere", ` +
      `defaultQueue: "nobody-consumes" }, function elsewhere() {});\n`,
  );
  return path;
}

/**
 * The id of the attempt that ended a task FAILURE (itself, or an attempt
 * after it: `meta.nextTask`), or undefined while none has.
 */
async function failedEnd(
  api: Awaited<ReturnType<typeof producerFor>>,
  id: string,
): Promise<string | undefined> {
  for (let at: string | undefined = id, n = 0; at && n < 10; n++) {
    const task = await api.tasks.get(at);
    if (task?.status === TaskStatus.FAILURE) return task.id;
    const next = task?.meta.nextTask;
    at = typeof next === "string" ? next : undefined;
  }
  return undefined;
}

/** The number a counter of the header shows. */
async function counter(page: Page, key: string): Promise<number> {
  const text = await page.textContent(
    `#counters [data-counter="${key}"] .counter-value`,
  );
  return Number(text?.replaceAll(",", ""));
}

/** Waits until the page shows a selector. */
async function see(page: Page, selector: string, seconds = 15) {
  await page.waitForSelector(selector, { timeout: seconds * 1000 });
}

/**
 * Waits until the notice says `pattern`: an earlier action's notice may
 * still show when the next action's is awaited.
 */
async function notice(page: Page, pattern: RegExp, seconds = 15) {
  await eventually(
    async () => pattern.test(await page.textContent("#notice.notice") ?? ""),
    seconds,
    `the notice ${pattern}`,
  );
}

/** Goes to a view by its hash (no reload). */
async function open(page: Page, hash: string) {
  await page.evaluate((h) => location.hash = h, hash);
}

const STORES = ["sqlite", "redis"] as const;

for (const kind of STORES) {
  Deno.test({
    name:
      `dashboard on ${kind}: live tasks, revoke, text-only data, search, chart, token and CSRF`,
    // playwright's pipes to chromium outlive single steps.
    sanitizeResources: false,
    sanitizeOps: false,
    async fn(t) {
      await requireChromium();
      await using dir = await tempDir();
      await using redisServer = kind === "redis" ? await startRedis() : null;
      const dataStore = redisServer
        ? redisServer.url()
        : `sqlite:${dir.path}/pq.sqlite`;
      const jobs = await writeJobs(dir.path);
      const taskPaths = `${EXAMPLE_JOBS},${jobs}`;
      await using server = startServer([
        ...serverArgs({ workers: 0, concurrentTasks: 4, dataStore, taskPaths }),
      ]);
      await server.ready();
      await using dashboard = await startDashboardProcess(
        [...serverArgs({ dataStore, taskPaths }), "--token", TOKEN],
        TOKEN,
      );
      const base = dashboard.base;
      await using api = await producerFor({
        dataStore,
        taskPaths: [EXAMPLE_JOBS, jobs],
      });
      await using chrome = await launchBrowser();
      const context = await chrome.browser.newContext({
        viewport: { width: 1280, height: 860 },
      });
      const page = await context.newPage();
      const dialogs: string[] = [];
      page.on("dialog", (dialog) => {
        dialogs.push(`${dialog.type()}: ${dialog.message()}`);
        dialog.accept().catch(() => {});
      });
      const pageErrors: string[] = [];
      page.on("pageerror", (error) => pageErrors.push(String(error)));

      await t.step("a request without the token is refused", async () => {
        for (const path of ["/", "/api/overview", "/metrics"]) {
          const response = await fetch(base + path);
          assert.deepEqual(response.status, 401, path);
          assert.match((await response.json()).error, /needs its token/);
        }
        const wrong = await fetch(`${base}/api/overview`, {
          headers: { authorization: "Bearer nope" },
        });
        await wrong.body?.cancel();
        assert.deepEqual(wrong.status, 401);
        const right = await fetch(`${base}/api/overview`, {
          headers: { authorization: `Bearer ${TOKEN}` },
        });
        await right.body?.cancel();
        assert.deepEqual(right.status, 200);
      });

      await t.step("?token= opens a session and drops the token", async () => {
        await page.goto(`${base}/?token=${encodeURIComponent(TOKEN)}`);
        await see(page, "body[data-ready=true]");
        assert.deepEqual(new URL(page.url()).search, "");
        const cookies = await context.cookies(base);
        assert(cookies.some((c) => c.httpOnly && c.name.startsWith("pq_")));
        // The store URL is the store's own (masked), never a password.
        const store = await page.textContent("#store");
        assert(store?.startsWith(kind === "redis" ? "redis://" : "sqlite:"));
        await page.evaluate(() =>
          (globalThis as unknown as { loaded: number }).loaded = 1
        );
      });

      await t.step("a queued task appears in the tasks view live", async () => {
        await open(page, "#/tasks");
        await see(page, "#task-search");
        const task = await api.tasks.queue("asynchronous", { lag: 0.2 }, {
          callback: false,
        });
        await see(page, `tr[data-id="${task.id}"]`);
        await see(page, `tr[data-id="${task.id}"][data-status="SUCCESS"]`);
        // The same page: no reload happened.
        assert.deepEqual(
          await page.evaluate(() =>
            (globalThis as unknown as { loaded?: number }).loaded
          ),
          1,
        );
      });

      await t.step("task data renders as text, never as markup", async () => {
        const task = await api.tasks.queue("echo", { name: XSS }, {
          callback: true,
        });
        assert.deepEqual(task.statusString, "SUCCESS");
        await open(page, `#/task/${task.id}`);
        await see(page, "#task-kwargs");
        assert((await page.textContent("#task-kwargs"))?.includes(XSS));
        assert((await page.textContent("#task-result"))?.includes(XSS));
        await open(page, `#/tasks?job=echo`);
        await see(page, `tr[data-id="${task.id}"]`);
        assert(
          (await page.textContent(`tr[data-id="${task.id}"]`))?.includes(XSS),
        );
        assert.deepEqual(await page.locator("img").count(), 0);
        // Give an onerror handler every chance to run.
        await delay(300);
        assert.deepEqual(dialogs, []);
      });

      await t.step("search by job and by a word of the kwargs", async () => {
        const word = `zanzibar${crypto.randomUUID().slice(0, 8)}`;
        const wanted = await api.tasks.queue("echo", { note: `a ${word} b` });
        const other = await api.tasks.queue("echo", { note: "nothing" });
        const sum = await api.tasks.queue("addition", { a: 1, b: 2 });
        await open(page, "#/tasks");
        await see(page, "#task-search");
        await page.fill("#task-search input[name=job]", "echo");
        await page.click("#task-search button[type=submit]");
        await see(page, `tr[data-id="${wanted.id}"]`);
        await see(page, `tr[data-id="${other.id}"]`);
        assert.deepEqual(
          await page.locator(`tr[data-id="${sum.id}"]`).count(),
          0,
        );
        await page.fill("#task-search input[name=job]", "");
        await page.fill("#task-search input[name=text]", word.toUpperCase());
        await page.click("#task-search button[type=submit]");
        await see(page, `tr[data-id="${wanted.id}"]`);
        assert.deepEqual(
          await page.locator(`tr[data-id="${other.id}"]`).count(),
          0,
        );
        assert.deepEqual(await page.locator("#task-rows tr").count(), 1);
        // By id too.
        await open(page, `#/tasks?id=${sum.id}`);
        await see(page, `tr[data-id="${sum.id}"]`);
      });

      await t.step(
        "a running task revoked by a click ends REVOKED",
        async () => {
          const task = await api.tasks.queue("asynchronous", { lag: 60 }, {
            callback: false,
          });
          await eventually(
            async () => (await api.tasks.get(task.id))?.status === 5,
            15,
            "the task to start",
          );
          await open(page, `#/task/${task.id}`);
          await see(page, "#revoke");
          await page.click("#revoke");
          await eventually(
            async () =>
              (await api.tasks.get(task.id))?.status === TaskStatus.REVOKED,
            15,
            "the task to be revoked",
          );
          // The page follows the task live.
          await see(page, "#task-status .status-REVOKED");
        },
      );

      await t.step("the overview chart has points", async () => {
        await open(page, "#/overview");
        await see(page, "#history-chart canvas");
        // The store's counts of the last minutes, read every 2 s.
        await eventually(
          async () =>
            Number(await page.getAttribute("#history-chart", "data-points")) >
              0 &&
            Number(await page.getAttribute("#history-chart", "data-done")) >= 4,
          15,
          "points on the chart, at least 4 tasks done",
        );
        assert.deepEqual(
          await page.getAttribute("#history-chart", "data-minutes"),
          "60",
        );
        // The legend shows the newest minute's counts, not uPlot's "--".
        const legend = (await page.textContent(".u-legend"))!;
        assert.match(legend, /SUCCESS\s*\d+/);
        assert.doesNotMatch(legend, /--/);
        // A day's window, from the store too.
        await page.click('#history-window button[data-minutes="1440"]');
        await eventually(
          async () =>
            await page.getAttribute("#history-chart", "data-minutes") ===
              "1440",
          10,
          "the chart of 24 h",
        );
        assert(
          Number(await page.getAttribute("#history-chart", "data-done")) >= 4,
        );
        await page.click('#history-window button[data-minutes="60"]');
        // The window is checked: a day at most.
        for (const minutes of ["0", "1441", "1.5", "an-hour"]) {
          const bad = await fetch(`${base}/api/history?minutes=${minutes}`, {
            headers: { authorization: `Bearer ${TOKEN}` },
          });
          assert.deepEqual(bad.status, 400, minutes);
          assert.match((await bad.json()).error, /Bad history.*minutes/s);
        }
        const day = await (await fetch(`${base}/api/history?minutes=1440`, {
          headers: { authorization: `Bearer ${TOKEN}` },
        })).json();
        assert.deepEqual(day.minutes.length, 1440);
      });

      await t.step(
        "the counters header shows the store's totals and sizes",
        async () => {
          await see(page, '#counters [data-counter="processed"]');
          await eventually(
            async () => {
              const { totals } = await api.tasks.history({ minutes: 1 });
              const processed = (totals.SUCCESS ?? 0) + (totals.FAILURE ?? 0);
              return processed > 0 &&
                await counter(page, "processed") === processed &&
                await counter(page, "failed") === (totals.FAILURE ?? 0) &&
                await counter(page, "revoked") === (totals.REVOKED ?? 0);
            },
            15,
            "the header's totals to be the store's",
          );
          const parked = await api.tasks.queue("addition", { a: 1 }, {
            callback: false,
            delay: 600,
            queue: "later",
          });
          await eventually(
            async () => await counter(page, "scheduled") >= 1,
            15,
            "a delayed task counted as scheduled",
          );
          await api.tasks.revoke(parked.id);
          // On every view, and a link to where its tasks are.
          await open(page, "#/jobs");
          await see(page, 'tr[data-job="addition"]');
          assert.deepEqual(
            await page.getAttribute(
              '#counters [data-counter="failed"]',
              "href",
            ),
            "#/failed",
          );
        },
      );

      await t.step(
        "actions need the CSRF token and the own Origin",
        async () => {
          const task = await api.tasks.queue("asynchronous", { lag: 30 }, {
            callback: false,
          });
          const cookie = (await context.cookies(base)).map((c) =>
            `${c.name}=${c.value}`
          ).join("; ");
          const session = await (await fetch(`${base}/api/session`, {
            headers: { cookie },
          })).json();
          assert.match(session.csrf, /^[0-9a-f]{48}$/);
          const revoke = (headers: Record<string, string>) =>
            fetch(`${base}/api/tasks/${task.id}/revoke`, {
              method: "POST",
              headers: {
                cookie,
                "content-type": "application/json",
                ...headers,
              },
              body: "{}",
            });
          const noCsrf = await revoke({ origin: base });
          assert.deepEqual(noCsrf.status, 403);
          assert.match((await noCsrf.json()).error, /CSRF/);
          const foreign = await revoke({
            origin: "http://evil.example",
            "x-csrf-token": session.csrf,
          });
          assert.deepEqual(foreign.status, 403);
          assert.match((await foreign.json()).error, /Origin/);
          const noOrigin = await revoke({ "x-csrf-token": session.csrf });
          assert.deepEqual(noOrigin.status, 403);
          await noOrigin.body?.cancel();
          const bearer = await fetch(`${base}/api/tasks/${task.id}/revoke`, {
            method: "POST",
            headers: { authorization: `Bearer ${TOKEN}`, origin: base },
          });
          assert.deepEqual(bearer.status, 403);
          await bearer.body?.cancel();
          // Refused every time: the task is still queued or running.
          const before = await api.tasks.get(task.id);
          assert(before && !before.done());
          // From the page itself, without the token, too.
          const status = await page.evaluate(
            async (id) =>
              (await fetch(`/api/tasks/${id}/revoke`, { method: "POST" }))
                .status,
            task.id,
          );
          assert.deepEqual(status, 403);
          const ok = await revoke({
            origin: base,
            "x-csrf-token": session.csrf,
          });
          assert.deepEqual(ok.status, 200);
          // Running by now, or still queued on a slow machine.
          assert.match((await ok.json()).outcome, /^(requested|revoked)$/);
        },
      );

      await t.step(
        "a job's page queues a task, checked by its schema",
        async () => {
          await open(page, "#/job/addition");
          await see(page, "#queue-form");
          await page.fill("#queue-kwargs", '{"a": 4, "aa": 1}');
          await page.click("#queue-form button[type=submit]");
          await see(page, "#queue-error:not(:empty)");
          assert.match(
            (await page.textContent("#queue-error"))!,
            /Invalid arguments for job 'addition'/,
          );
          await page.fill("#queue-kwargs", '{"a": 4, "b": 6}');
          await page.click("#queue-form button[type=submit]");
          await see(page, "#task-result");
          await see(page, "#task-status .status-SUCCESS");
          assert.deepEqual(
            (await page.textContent("#task-result"))?.trim(),
            "10",
          );
          // Run it again: a copy, queued and done, on its own page.
          // (No page.waitForFunction: the dashboard's CSP forbids the eval
          // it polls with.)
          const first = page.url();
          await page.click("#rerun");
          await page.waitForURL((url) => url.href !== first);
          const copy = new URL(page.url()).hash.split("/").pop()!;
          assert.match(copy, /^[\w.-]+$/);
          // The copy's own page, not the first task's still on screen.
          await see(page, `h2 .mono:text-is("${copy}")`);
          await see(page, "#task-status .status-SUCCESS");
          assert.deepEqual(
            (await page.textContent("#task-result"))?.trim(),
            "10",
          );
        },
      );

      await t.step(
        "queues and workers views, purge with a confirm",
        async () => {
          await api.tasks.queue("addition", { a: 1 }, {
            callback: false,
            delay: 600,
            queue: "parked",
          });
          await open(page, "#/queues");
          await see(page, 'tr[data-queue="parked"]');
          await page.click('tr[data-queue="parked"] button.danger');
          await notice(page, /Purged 1 task/);
          assert(dialogs.some((d) => d.startsWith("confirm:")));
          // Pause by a click: the store says so, and so does the page.
          await page.click('tr[data-queue="parked"] button.pause');
          await see(page, 'tr[data-queue="parked"] .status-paused');
          assert.deepEqual(await api.queues.paused(), ["parked"]);
          await page.click('tr[data-queue="parked"] button.pause');
          await page.waitForSelector(
            'tr[data-queue="parked"] .status-paused',
            { state: "detached", timeout: 15_000 },
          );
          assert.deepEqual(await api.queues.paused(), []);
          await open(page, "#/workers");
          await see(page, "tr[data-worker]");
          // Uptime and memory come from the worker's heartbeat.
          const row = (await page.textContent("tr[data-worker]"))!;
          assert.match(row, /\d+ MiB/);
          assert.doesNotMatch(row, /≥/);
          await open(page, "#/jobs");
          await see(page, 'tr[data-job="addition"]');
        },
      );

      await t.step(
        "a workflow's page: its members live, reached from a member; its revoke",
        async () => {
          const done = await api.workflows.queue(
            group(sig("echo", { name: XSS }), sig("addition", { a: 3, b: 4 })),
          );
          await done.result;
          await open(page, `#/task/${done.ids[0]}`);
          await see(page, "#workflow-link");
          await page.click("#workflow-link");
          const row = (id: string) => `tr[data-id="${id}"]`;
          await see(page, `${row(done.ids[1])} .status-SUCCESS`);
          assert.match(
            (await page.textContent(row(done.ids[1])))!,
            /addition.*7$/,
          );
          assert((await page.textContent(row(done.ids[0])))?.includes(XSS));
          assert.deepEqual(await page.locator("img").count(), 0);
          assert.deepEqual(await page.locator("#revoke-workflow").count(), 0);

          const slow = await api.workflows.queue(
            chain(sig("asynchronous", { lag: 20 }), sig("addition", { a: 1 })),
          );
          await open(page, `#/workflow/${slow.id}`);
          await see(page, `${row(slow.ids[0])} .status-STARTED`);
          assert.match(
            (await page.textContent(row(slow.ids[1])))!,
            /not queued/,
          );
          await page.click("#revoke-workflow");
          await see(page, `${row(slow.ids[0])} .status-REVOKED`);
          await see(page, `${row(slow.ids[1])} .status-REVOKED`);
          // Its notice outlives the live re-renders that show the revoke.
          await see(page, "#notice.notice");
          // Long enough for live re-renders to come (none says it is done).
          await delay(500);
          assert.deepEqual(
            await page.textContent("#notice.notice"),
            "Revoke: 1 requested, 1 revoked",
          );
          assert(
            dialogs.some((d) => d.includes(`Revoke workflow ${slow.id}?`)),
          );
          assert.deepEqual(
            (await api.tasks.get(slow.ids[1]))?.statusString,
            "REVOKED",
          );

          await open(page, "#/workflow/nope-1");
          await see(page, "p.error");
          assert.match(
            (await page.textContent("p.error"))!,
            /No workflow with id 'nope-1'/,
          );
          const bad = await fetch(`${base}/api/workflows/a%20b`, {
            headers: { authorization: `Bearer ${TOKEN}` },
          });
          assert.deepEqual(bad.status, 400);
          assert.match((await bad.json()).error, /workflow id/);
        },
      );

      await t.step(
        "the failed view: errors as text, bulk retry, delete, revoke",
        async () => {
          const failing = await Promise.all(
            [1, 2, 3].map((n) =>
              api.tasks.queue("boom", { n }, {
                callback: false,
                priority: 7,
                metaParams: { tenant: "acme" },
              })
            ),
          );
          const ids: string[] = [];
          await eventually(
            async () => {
              ids.length = 0;
              for (const first of failing) {
                const last = await failedEnd(api, first.id);
                if (!last) return false;
                ids.push(last);
              }
              return true;
            },
            30,
            "three failed tasks (each after a retry)",
          );
          await open(page, "#/failed?job=boom");
          for (const id of ids) await see(page, `tr[data-id="${id}"]`);
          const row = (await page.textContent(`tr[data-id="${ids[0]}"]`))!;
          assert(row.includes(`boom 1 ${XSS}`), row);
          assert.deepEqual(await page.locator("img").count(), 0);
          // Only FAILURE in the failed view (each one's RETRY attempt is not).
          assert.deepEqual(
            await page.locator('#task-rows tr:not([data-status="FAILURE"])')
              .count(),
            0,
          );
          dialogs.length = 0;
          await page.click("#retry-all");
          await notice(page, /^Retried 3 tasks/);
          assert(dialogs.some((d) => d.startsWith("confirm: Retry every")));
          // Each failed task is gone, its copy queued with a derived id.
          for (const id of ids) {
            assert.deepEqual(await api.tasks.get(id), undefined);
            const copy = await api.tasks.get(`${id}-r1`);
            assert.deepEqual(copy?.name, "boom");
            // A first attempt (the failed task was the second) with the
            // caller's meta.
            assert.deepEqual(copy?.retry, 1);
            assert.deepEqual(
              [copy?.meta.priority, copy?.meta.tenant],
              [7, "acme"],
            );
          }
          // Safe to repeat: the same ids again retry nothing twice.
          const cookie = (await context.cookies(base)).map((c) =>
            `${c.name}=${c.value}`
          ).join("; ");
          const csrf = (await (await fetch(`${base}/api/session`, {
            headers: { cookie },
          })).json()).csrf;
          const action = (path: string, body: unknown) =>
            fetch(`${base}/api/tasks/${path}`, {
              method: "POST",
              headers: {
                cookie,
                origin: base,
                "x-csrf-token": csrf,
                "content-type": "application/json",
              },
              body: JSON.stringify(body),
            });
          const again = await action("retry", { ids });
          assert.deepEqual(again.status, 200);
          const view = await again.json();
          assert.deepEqual([view.done, view.skipped], [0, 3]);
          assert.match(view.skips[0].reason, /unknown/);
          // A crash between the copy and the delete: the copy is found
          // (not queued again), the failed task only deleted.
          const copies = ids.map((id) => `${id}-r1`);
          const ended: string[] = [];
          await eventually(
            async () => {
              ended.length = 0;
              for (const copy of copies) {
                const last = await failedEnd(api, copy);
                if (!last) return false;
                ended.push(last);
              }
              return true;
            },
            30,
            "the copies failed too",
          );
          const made = await api.tasks.queue("boom", { n: 9 }, {
            id: `${ended[0]}-r1`,
            callback: false,
            delay: 600,
          });
          const twice = await (await action("retry", {
            ids: [ended[0], ended[0]],
          })).json();
          assert.deepEqual([twice.done, twice.matched], [1, 1]);
          assert.deepEqual(twice.copies, { [ended[0]]: made.id });
          assert.deepEqual(await api.tasks.get(ended[0]), undefined);
          assert.deepEqual((await api.tasks.get(made.id))?.kwargs, { n: 9 });
          await api.tasks.revoke(made.id);
          // A workflow's failed member is left to its workflow.
          const flow = await api.workflows.queue(chain(sig("boom", { n: 8 })));
          let member: string | undefined;
          await eventually(
            async () =>
              (member = await failedEnd(api, flow.ids[0])) !== undefined,
            30,
            "the workflow's member failed",
          );
          const kept = await (await action("retry", { ids: [member] })).json();
          assert.deepEqual([kept.done, kept.skipped], [0, 1]);
          assert.match(kept.skips[0].reason, /member of a workflow/);
          assert.deepEqual(
            (await api.tasks.get(member!))?.statusString,
            "FAILURE",
          );
          // Bad input: a clear 400.
          for (
            const [path, body, message] of [
              ["retry", {}, /either 'ids'/],
              ["retry", { ids: ["a b"] }, /must be 1 to 128 characters/],
              ["delete", { filter: { status: "QUEUED" } }, /not QUEUED/],
              ["revoke", { filter: {} }, /takes 'ids'/],
              ["retry", { ids: [], extra: 1 }, /extra|Unrecognized/],
            ] as const
          ) {
            const refused = await action(path, body);
            assert.deepEqual(refused.status, 400, JSON.stringify(body));
            assert.match((await refused.json()).error, message);
          }
          // Without the CSRF token: refused, nothing done.
          const noCsrf = await fetch(`${base}/api/tasks/delete`, {
            method: "POST",
            headers: { cookie, origin: base },
            body: JSON.stringify({ ids: ended }),
          });
          assert.deepEqual(noCsrf.status, 403);
          await noCsrf.body?.cancel();
          assert((await api.tasks.get(ended[1])) !== undefined);
          // Select one in the list and delete it.
          await open(page, "#/failed?job=boom");
          await see(page, `tr[data-id="${ended[1]}"]`);
          await page.check(`tr[data-id="${ended[1]}"] input.select`);
          await page.click("#bulk-delete");
          await notice(page, /^Deleted 1 task/);
          assert.deepEqual(await api.tasks.get(ended[1]), undefined);
          await page.waitForSelector(`tr[data-id="${ended[1]}"]`, {
            state: "detached",
            timeout: 15_000,
          });
          // Revoke a selection in the tasks list: a queued task never runs.
          const waiting = await api.tasks.queue("addition", { a: 2 }, {
            callback: false,
            delay: 600,
          });
          await open(page, "#/tasks?job=addition");
          await see(page, `tr[data-id="${waiting.id}"]`);
          await page.check(`tr[data-id="${waiting.id}"] input.select`);
          await page.click("#bulk-revoke");
          await see(page, `tr[data-id="${waiting.id}"][data-status="REVOKED"]`);
          await notice(page, /^Revoked 1 task/);
        },
      );

      await t.step(
        "a job's page: every count, every option; workers of its queue",
        async () => {
          await open(page, "#/job/boom");
          await see(page, "#queue-form");
          const card = (await page.textContent(".card dl.fields"))!;
          assert.match(card, /retriesup to 2 runs in all/);
          assert.match(card, /retry delayexponential from 0\.1 s to 1 s/);
          assert.match(card, /rate limit1000 tasks per 1 s/);
          assert.match(card, /max concurrency50/);
          for (
            const status of [
              "QUEUED",
              "STARTED",
              "RETRY",
              "SUCCESS",
              "FAILURE",
              "REVOKED",
            ]
          ) {
            await see(page, `td[data-count="${status}"]`);
          }
          // 3 first attempts ended RETRY; their copies' did too.
          assert(
            Number(await page.textContent('td[data-count="RETRY"]')) >= 3,
          );
          // The form of boom's page shows until this one is drawn.
          await open(page, "#/job/testperiodicerror");
          await eventually(
            async () =>
              /scheduleevery 60 s.*next run/.test(
                await page.textContent(".card dl.fields") ?? "",
              ),
            15,
            "the periodic job's schedule and next run",
          );
          // The worker consumes the default queue: counted for addition,
          // not for a job whose queue no worker consumes.
          await open(page, "#/jobs");
          await see(page, 'tr[data-job="addition"]');
          const workers = async (job: string) =>
            Number(
              await page.textContent(`tr[data-job="${job}"] td:nth-child(4)`),
            );
          assert.deepEqual(await workers("addition"), 1);
          assert.deepEqual(await workers("elsewhere"), 0);
        },
      );

      await t.step(
        "live lists stay newest first and within their page",
        async () => {
          await open(page, "#/tasks?job=echo&limit=5");
          await see(page, "#task-rows tr");
          for (let i = 0; i < 8; i++) {
            await api.tasks.queue("echo", { i }, { callback: false });
          }
          const newest = async (limit: number) =>
            (await api.tasks.search({ job: "echo", limit })).tasks.map((
              task,
            ) => task.id);
          const shownIds = async () => {
            const rows = page.locator("#task-rows tr");
            const shown = [];
            for (let i = 0; i < await rows.count(); i++) {
              shown.push(await rows.nth(i).getAttribute("data-id"));
            }
            return JSON.stringify(shown);
          };
          await eventually(
            async () => await shownIds() === JSON.stringify(await newest(5)),
            15,
            "the 5 newest echo tasks, newest first",
          );
          assert(await page.isVisible("#more"));
          // "More" shows the rows the live ones pushed out, in order.
          await page.click("#more");
          await eventually(
            async () => await shownIds() === JSON.stringify(await newest(10)),
            15,
            "the 10 newest echo tasks after More",
          );
        },
      );

      if (kind === "sqlite") {
        await t.step("screenshots of each view", async () => {
          await Deno.mkdir(SCREENSHOTS, { recursive: true });
          // The chart as after an hour of work, not a store minutes old.
          await playPastHour(`${dir.path}/pq.sqlite`);
          // A page reads the past minutes once, as it loads.
          await page.reload();
          await see(page, "body[data-ready=true]");
          const { totals } = await api.tasks.history();
          await eventually(
            async () =>
              await counter(page, "processed") ===
                (totals.SUCCESS ?? 0) + (totals.FAILURE ?? 0),
            15,
            "the header's totals with the past hour",
          );
          const running = await api.tasks.queue("asynchronous", { lag: 20 }, {
            callback: false,
          });
          // A few failed tasks for the failed view.
          const failing = await Promise.all(
            ["resize", "invoice", "notify"].map((what) =>
              api.tasks.queue("boom", { n: what }, { callback: false })
            ),
          );
          await eventually(
            async () =>
              (await Promise.all(failing.map((t) => failedEnd(api, t.id))))
                .every(Boolean),
            30,
            "the failed view's tasks",
          );
          const views: Array<[string, string, string]> = [
            ["overview", "#/overview", "#history-chart canvas"],
            ["queues", "#/queues", "table"],
            ["workers", "#/workers", "tr[data-worker]"],
            ["tasks", "#/tasks", "#task-rows tr"],
            ["failed", "#/failed", "#task-rows tr"],
            ["task", `#/task/${running.id}`, "#task-kwargs"],
            ["jobs", "#/jobs", 'tr[data-job="addition"]'],
            ["job", "#/job/addition", "#queue-form"],
          ];
          for (const [name, hash, ready] of views) {
            await open(page, hash);
            await see(page, ready);
            // Charts and fonts settle (no event says they have).
            await delay(300);
            await page.screenshot({ path: `${SCREENSHOTS}${name}.png` });
          }
          await api.tasks.revoke(running.id);
          for (const [name] of views) {
            assert.ok((await Deno.stat(`${SCREENSHOTS}${name}.png`)).size > 0);
          }
        });
      }
      await t.step(
        "a new dashboard on the same store: the chart's history, the header, a running task's job",
        async () => {
          const chart = async (at: Page) =>
            Number(await at.getAttribute("#history-chart", "data-done"));
          await open(page, "#/overview");
          await see(page, "#history-chart canvas");
          const before = await chart(page);
          const processed = await counter(page, "processed");
          assert(before > 0 && processed > 0);
          // Started before the new dashboard and its page.
          const running = await api.tasks.queue("asynchronous", { lag: 30 }, {
            callback: false,
          });
          await eventually(
            async () =>
              (await api.tasks.get(running.id))?.status ===
                TaskStatus.STARTED,
            15,
            "the task to start",
          );
          await dashboard.stop();
          await using second = await startDashboardProcess(
            [...serverArgs({ dataStore, taskPaths }), "--token", TOKEN],
            TOKEN,
          );
          const fresh = await context.newPage();
          fresh.on("pageerror", (error) => pageErrors.push(String(error)));
          await fresh.goto(
            `${second.base}/?token=${encodeURIComponent(TOKEN)}`,
          );
          await see(fresh, "body[data-ready=true]");
          await see(fresh, "#history-chart canvas");
          // The earlier minutes' counts, from the store: not since start.
          assert(
            await chart(fresh) >= before,
            `${await chart(fresh)} < ${before}`,
          );
          assert(await counter(fresh, "processed") >= processed);
          await open(fresh, "#/workers");
          await see(fresh, `tr[data-worker] a[href="#/task/${running.id}"]`);
          await eventually(
            async () =>
              /asynchronous \d/.test(
                (await fresh.textContent("tr[data-worker]"))!,
              ),
            15,
            "the running task's job and run time",
          );
          // Uptime in whole units (`1 m 57 s`), not `116.6 s`.
          assert.match(
            (await fresh.textContent("tr[data-worker]"))!,
            /\d+ [smhd]( \d+ [smh])?\d+ MiB/,
          );
          const icon = await fetch(`${second.base}/assets/favicon.svg`, {
            headers: { authorization: `Bearer ${TOKEN}` },
          });
          assert.deepEqual(icon.headers.get("content-type"), "image/svg+xml");
          assert.match(await icon.text(), /^<svg/);
          await api.tasks.revoke(running.id);
          await fresh.close();
        },
      );
      assert.deepEqual(pageErrors, []);
      await context.close();
    },
  });
}

Deno.test("pq dashboard refuses a host other than loopback without a token", async () => {
  await using dir = await tempDir();
  const dataStore = `sqlite:${dir.path}/pq.sqlite`;
  await (await producerFor({ dataStore })).close();
  const cli = new URL("../cli.ts", import.meta.url).pathname;
  const output = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      cli,
      "dashboard",
      "--host",
      "0.0.0.0",
      "--port",
      "0",
      "--data-store",
      dataStore,
    ],
    env: { PQ_DASHBOARD_TOKEN: "" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.deepEqual(output.code, 2);
  assert.match(
    new TextDecoder().decode(output.stderr),
    /refuses to listen on 0\.0\.0\.0 without a token/,
  );
});

Deno.test("the rate window counts per second and forgets what is older", () => {
  const rate = new RateWindow(10, ["SUCCESS", "FAILURE"]);
  rate.count("SUCCESS", 100.1);
  rate.count("SUCCESS", 100.9);
  rate.count("FAILURE", 105);
  rate.count("OTHER", 105);
  assert.deepEqual(rate.at(100), { SUCCESS: 2, FAILURE: 0 });
  const series = rate.series(105.5);
  assert.deepEqual(series.start, 96);
  assert.deepEqual(series.SUCCESS[4], 2);
  assert.deepEqual(series.FAILURE[9], 1);
  // Ten seconds later, second 100's slot holds second 110.
  rate.count("SUCCESS", 110);
  assert.deepEqual(rate.at(100), { SUCCESS: 0, FAILURE: 0 });
  assert.deepEqual(rate.at(110).SUCCESS, 1);
  // A late count for a second out of the window is dropped.
  rate.count("SUCCESS", 100);
  assert.deepEqual(rate.at(110).SUCCESS, 1);
  assert.deepEqual(rate.sum("SUCCESS", 111), 1);
});
