/**
 * The dashboard's Queues view in chromium shows the groups with work (fair
 * queues), a group's name as text, and pauses and resumes one group.
 */
import assert from "node:assert/strict";
import { startDashboard } from "../src/web/dashboard.ts";
import { launchBrowser, requireChromium } from "./_browser.ts";
import { eventually, producerFor, tempDir } from "./_server.ts";

Deno.test("fair queues (sqlite, chromium): the Queues view lists the groups with work, and pauses and resumes one", async () => {
  await requireChromium();
  await using dir = await tempDir();
  await using api = await producerFor({
    dataStore: `sqlite:${dir.path}/pq.sqlite`,
  });
  const markup = "<i>acme</i>";
  for (const group of [markup, markup, "beta"]) {
    await api.tasks.queue("addition", { a: 1 }, {
      queue: "fair",
      group,
      callback: false,
    });
  }
  await using dashboard = await startDashboard({ api, port: 0 });
  await using chrome = await launchBrowser();
  const page = await chrome.browser.newPage();
  await page.goto(`${dashboard.url}#/queues`);
  const row = `#groups tr[data-group="beta"]`;
  await page.waitForSelector(row, { timeout: 15_000 });
  const cells = await page.$$eval(
    "#groups tbody tr",
    (rows) => rows.map((r) => [...r.children].map((c) => c.textContent)),
  );
  assert.deepEqual(cells, [
    ["fair", markup, "2", "0", "running", "Pause"],
    ["fair", "beta", "1", "0", "running", "Pause"],
  ]);
  // The name is text: no element was made of it.
  assert.equal(await page.$$eval("#groups i", (found) => found.length), 0);
  await page.click(`${row} button.pause`);
  await eventually(
    async () =>
      (await api.queues.groups("fair")).find((g) => g.group === "beta")
        ?.paused === true,
    15,
    "group beta paused",
  );
  await page.waitForSelector(`${row} td.status-paused`, { timeout: 15_000 });
  await page.click(`${row} button.pause`);
  await eventually(
    async () =>
      (await api.queues.groups("fair")).find((g) => g.group === "beta")
        ?.paused === false,
    15,
    "group beta resumed",
  );
});
