/**
 * The dashboard's schedules, over HTTP, on SQLite and on Redis: the list
 * with next run times, pause and resume, remove; each action needs the
 * session's CSRF token; bad input is a 400, an unknown schedule a 404.
 */
import assert from "node:assert/strict";
import { startDashboard } from "../src/web/dashboard.ts";
import { startRedis } from "./_redis.ts";
import { producerFor, tempDir } from "./_server.ts";

const redis = await startRedis();
globalThis.addEventListener("unload", () => redis.stopSync());

const STORES: Array<[string, (dir: string) => string]> = [
  ["sqlite", (dir) => `sqlite:${dir}/pq.sqlite`],
  ["redis", () => redis.url(`scheddash${crypto.randomUUID().slice(0, 8)}`)],
];

for (const [name, storeFor] of STORES) {
  Deno.test(`dashboard schedules (${name}): list, pause, resume, remove over HTTP, CSRF-checked`, async () => {
    await using dir = await tempDir();
    await using api = await producerFor({ dataStore: storeFor(dir.path) });
    await api.schedules.upsert({
      id: "nightly",
      job: "<b>report</b>",
      kwargs: { who: "<script>x</script>" },
      cron: "30 2 * * *",
      timezone: "Europe/Berlin",
      limit: 3,
    });
    await api.schedules.upsert({ id: "tick", job: "addition", every: 60 });
    await using dashboard = await startDashboard({ api, port: 0 });
    const base = dashboard.url.replace(/\/$/, "");
    const opened = await fetch(`${base}/`);
    await opened.body?.cancel();
    const cookie = (opened.headers.get("set-cookie") ?? "").split(";")[0];
    const { csrf } = await (await fetch(`${base}/api/session`, {
      headers: { cookie },
    })).json();
    const call = async (path: string, body?: unknown, token = csrf) => {
      const response = await fetch(`${base}${path}`, {
        method: body === undefined ? "GET" : "POST",
        headers: body === undefined ? { cookie } : {
          cookie,
          origin: base,
          "x-csrf-token": token,
          "content-type": "application/json",
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      return { status: response.status, body: await response.json() };
    };

    const list = await call("/api/schedules");
    assert.equal(list.status, 200);
    const [nightly, tick] = list.body.schedules;
    assert.equal(nightly.id, "nightly");
    assert.equal(nightly.job, "<b>report</b>");
    assert.deepEqual(nightly.kwargs, { who: "<script>x</script>" });
    assert.equal(nightly.timezone, "Europe/Berlin");
    assert.equal(nightly.nextRuns.length, 3);
    for (const t of nightly.nextRuns) {
      // 02:30 in Berlin is 00:30 or 01:30 UTC.
      assert.match(new Date(t * 1000).toISOString(), /T0[01]:30:00\.000Z$/);
    }
    assert.deepEqual(
      [tick.id, tick.every, tick.paused, tick.runs, tick.ended],
      ["tick", 60, false, 0, false],
    );

    // An action without the session's token is refused, and changes nothing.
    const forged = await call("/api/schedules/pause", { id: "tick" }, "nope");
    assert.equal(forged.status, 403);
    assert.equal((await api.schedules.get("tick"))!.paused, false);

    const paused = await call("/api/schedules/pause", { id: "tick" });
    assert.deepEqual(paused, {
      status: 200,
      body: { id: "tick", paused: true, changed: true },
    });
    assert.equal((await api.schedules.get("tick"))!.paused, true);
    const again = await call("/api/schedules/pause", { id: "tick" });
    assert.equal(again.body.changed, false);
    const resumed = await call("/api/schedules/resume", { id: "tick" });
    assert.deepEqual(resumed.body, {
      id: "tick",
      paused: false,
      changed: true,
    });

    const unknown = await call("/api/schedules/pause", { id: "nope" });
    assert.equal(unknown.status, 404);
    assert.match(unknown.body.error, /no such schedule/);
    const bad = await call("/api/schedules/pause", { id: "tick", extra: 1 });
    assert.equal(bad.status, 400);
    assert.match(bad.body.error, /extra/);

    const removed = await call("/api/schedules/remove", { id: "nightly" });
    assert.deepEqual(removed.body, { id: "nightly", removed: true });
    assert.equal(
      (await call("/api/schedules/remove", { id: "nightly" })).status,
      404,
    );
    assert.deepEqual(
      (await call("/api/schedules")).body.schedules.map((s: { id: string }) =>
        s.id
      ),
      ["tick"],
    );
    // The page has the view in its menu, and serves its module.
    const page = await (await fetch(`${base}/`, { headers: { cookie } }))
      .text();
    assert.match(page, /<a href="#\/schedules" data-view="schedules">/);
    const asset = await fetch(`${base}/assets/schedules_view.js`, {
      headers: { cookie },
    });
    assert.equal(asset.status, 200);
    assert.match(await asset.text(), /export function schedulesView/);
  });
}
