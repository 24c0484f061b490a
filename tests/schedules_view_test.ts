/**
 * The dashboard's Schedules view in chromium, on a SQLite store: the
 * schedules with their timing, state and next runs, as text (a job name
 * holding markup stays text); Pause pauses one, Remove removes one after
 * the confirm is accepted (and not when it is dismissed).
 */
import assert from "node:assert/strict";
import { PulsarQueue } from "../mod.ts";
import {
  launchBrowser,
  requireChromium,
  startDashboardProcess,
} from "./_browser.ts";
import { eventually, serverArgs, tempDir } from "./_server.ts";

const XSS = `<img src=x onerror="globalThis.pwned=1">`;
const TOKEN = "test-token-" + crypto.randomUUID();

Deno.test({
  name: "the dashboard's Schedules view lists, pauses and removes schedules",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await requireChromium();
    await using dir = await tempDir();
    const dataStore = `sqlite:${dir.path}/pq.sqlite`;
    await using api = await new PulsarQueue({ dataStore }).api().start();
    await api.schedules.upsert({
      id: "nightly",
      job: XSS,
      cron: "30 2 * * *",
      timezone: "Europe/Berlin",
      limit: 3,
    });
    await api.schedules.upsert({ id: "tick", job: "addition", every: 60 });
    await using dashboard = await startDashboardProcess(
      [...serverArgs({ dataStore }), "--token", TOKEN],
      TOKEN,
    );
    await using chrome = await launchBrowser();
    const page = await chrome.browser.newPage();
    await page.goto(
      `${dashboard.base}/?token=${encodeURIComponent(TOKEN)}#/schedules`,
    );
    const rows = () =>
      page.$$eval(
        "tr[data-schedule]",
        (trs) =>
          trs.map((tr) =>
            [...tr.querySelectorAll("td")].map((td) => td.textContent ?? "")
          ),
      );
    await eventually(
      async () => (await rows()).length === 2,
      20,
      "the two schedules",
    );
    const [nightly, tick] = await rows();
    assert.equal(nightly[0], "nightly");
    assert.equal(nightly[1], XSS);
    assert.equal(nightly[2], 'cron "30 2 * * *" Europe/Berlin');
    assert.deepEqual([nightly[3], nightly[4]], ["active", "0/3"]);
    assert.deepEqual([tick[0], tick[2], tick[3], tick[4]], [
      "tick",
      "every 60 s",
      "active",
      "0",
    ]);
    // Three next runs, each a time.
    assert.equal(
      await page.$$eval(
        'tr[data-schedule="nightly"] td:nth-child(7) div',
        (divs) => divs.length,
      ),
      3,
    );
    assert.equal(await page.$("tr[data-schedule] img"), null, "text only");

    await page.click('tr[data-schedule="tick"] button.pause');
    await eventually(
      async () => (await api.schedules.get("tick"))?.paused === true,
      20,
      "tick paused",
    );
    await eventually(
      async () => (await rows())[1]?.[3] === "paused",
      20,
      "the view showing tick paused",
    );

    // A dismissed confirm removes nothing; an accepted one removes it.
    page.once("dialog", (dialog) => void dialog.dismiss());
    await page.click('tr[data-schedule="nightly"] button.remove');
    assert.ok(await api.schedules.get("nightly"));
    page.once("dialog", (dialog) => void dialog.accept());
    await page.click('tr[data-schedule="nightly"] button.remove');
    await eventually(
      async () => (await api.schedules.get("nightly")) === undefined,
      20,
      "nightly removed",
    );
    await eventually(
      async () => (await rows()).map((row) => row[0]).join() === "tick",
      20,
      "the view without nightly",
    );
    assert.equal(
      await page.evaluate(() =>
        (globalThis as unknown as { pwned?: number }).pwned
      ),
      undefined,
    );
  },
});
