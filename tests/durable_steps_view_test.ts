/**
 * Durable steps as a user sees them: `pq status <id>` lists a task's steps
 * with their times and results, and the dashboard's task page shows them
 * in a table, as text (a result holding markup stays text). On a SQLite
 * store whose task's steps were stored under its lease.
 */
import assert from "node:assert/strict";
import { TaskStatus } from "../mod.ts";
import { SqliteStore } from "../src/store/sqlite/sqlite_store.ts";
import {
  launchBrowser,
  requireChromium,
  startDashboardProcess,
} from "./_browser.ts";
import { eventually, pq, serverArgs, tempDir } from "./_server.ts";
import { claimRequest, queuedRecord } from "./_contract_stores.ts";

const XSS = `<img src=x onerror="globalThis.pwned=1">`;
const TOKEN = "test-token-" + crypto.randomUUID();

/** A finished task with two steps, stored as a worker stores them. */
async function taskWithSteps(path: string): Promise<string> {
  await using store = await SqliteStore.open(path, {
    serializer: "json",
    resultTtl: 3600,
  });
  const now = Date.now() / 1000;
  const record = queuedRecord({ t: now }, { name: "order" });
  await store.enqueue([record]);
  const [claim] = await store.claim(claimRequest());
  const charge = {
    name: "charge",
    result: { chargeId: "ch_1", note: XSS },
    timeStarted: now,
    timeEnded: now + 1.25,
  };
  const email = { name: "email", timeStarted: now + 2, timeEnded: now + 2.5 };
  assert.equal(await store.saveStep(claim, charge), true);
  assert.equal(await store.saveStep(claim, email), true);
  const stored = await store.get(record.id);
  const [written] = await store.finish([{
    ...claim,
    task: { ...stored!, status: TaskStatus.SUCCESS, timeEnded: now + 3 },
  }]);
  assert.equal(written, true);
  return record.id;
}

Deno.test("pq status lists a task's steps with their times and results", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/pq.sqlite`;
  const id = await taskWithSteps(path);
  const run = await pq(`sqlite:${path}`, "status", id);
  assert.equal(run.code, 0, run.stderr);
  const lines = run.stdout.split("\n").filter((line) =>
    /^ {2}step /.test(line)
  );
  assert.equal(lines.length, 2, run.stdout);
  assert.match(
    lines[0],
    /^ {2}step\s+charge {2}\d{4}-\d\d-\d\dT[\d:.]+Z \(1\.250 s\) {2}\{"chargeId":"ch_1","note":"<img src=x onerror=\\"globalThis\.pwned=1\\">"\}$/,
  );
  assert.match(lines[1], /^ {2}step\s+email {2}\S+Z \(0\.500 s\)$/);
  const json = await pq(`sqlite:${path}`, "status", id, "--json");
  assert.deepEqual(
    JSON.parse(json.stdout).steps.map((step: { name: string }) => step.name),
    ["charge", "email"],
  );
});

Deno.test({
  name: "the dashboard's task page shows a task's steps, as text",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await requireChromium();
    await using dir = await tempDir();
    const path = `${dir.path}/pq.sqlite`;
    const id = await taskWithSteps(path);
    await using dashboard = await startDashboardProcess(
      [...serverArgs({ dataStore: `sqlite:${path}` }), "--token", TOKEN],
      TOKEN,
    );
    await using chrome = await launchBrowser();
    const page = await chrome.browser.newPage();
    await page.goto(
      `${dashboard.base}/?token=${encodeURIComponent(TOKEN)}#/task/${id}`,
    );
    await eventually(
      async () => (await page.$("#task-steps")) !== null,
      20,
      "the steps table",
    );
    const rows = await page.$$eval(
      "#task-steps tbody tr",
      (trs) =>
        trs.map((tr) =>
          [...tr.querySelectorAll("td")].map((td) => td.textContent ?? "")
        ),
    );
    assert.equal(rows.length, 2);
    assert.equal(rows[0][0], "charge");
    assert.equal(rows[0][2], "1.3 s");
    assert.ok(rows[0][3].includes(JSON.stringify(XSS)), rows[0][3]);
    assert.deepEqual([rows[1][0], rows[1][2], rows[1][3]], [
      "email",
      "500 ms",
      "-",
    ]);
    assert.equal(await page.$("#task-steps img"), null, "markup stays text");
    assert.equal(
      await page.evaluate(() =>
        (globalThis as unknown as { pwned?: number }).pwned
      ),
      undefined,
    );
  },
});
