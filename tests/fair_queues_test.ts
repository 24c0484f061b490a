/**
 * Fair queues as users see them: the `group` and `groupConcurrency`
 * options (checked at the boundary, a job's `group` function), a server's
 * workers draining the tasks of groups (SQLite and Redis), `api.queues`
 * groups, pause and resume, `pq queues --groups`, `pq pause --group`, and
 * the dashboard's `/api/groups` routes over HTTP.
 */
import assert from "node:assert/strict";
import { job, PulsarQueue, TaskStatus } from "../mod.ts";
import { newTaskRecord } from "../src/model/queue_options.ts";
import { startDashboard } from "../src/web/dashboard.ts";
import { startRedis } from "./_redis.ts";
import {
  eventually,
  EXAMPLE_JOBS,
  pq,
  producerFor,
  serverArgs,
  startServer,
  tempDir,
} from "./_server.ts";

const MOD = new URL("../mod.ts", import.meta.url).href;
const redis = await startRedis();
globalThis.addEventListener("unload", () => redis.stopSync());

Deno.test("fair queues: the group comes from the option, else the job's function; bad ones are refused", () => {
  const tenantJob = {
    group: (kwargs: Record<string, unknown>) => `t${kwargs.n}`,
  };
  const byJob = newTaskRecord("x", { n: 7 }, {}, tenantJob, "default");
  assert.equal(byJob.meta.group, "t7");
  const byOption = newTaskRecord(
    "x",
    { n: 7 },
    { group: "vip", groupConcurrency: 2 },
    tenantJob,
    "default",
  );
  assert.deepEqual(
    [byOption.meta.group, byOption.meta.groupConcurrency],
    ["vip", 2],
  );
  assert.equal(newTaskRecord("x", {}, {}, {}, "default").meta.group, undefined);
  assert.throws(
    () => newTaskRecord("x", {}, {}, { group: () => "" }, "default"),
    /the 'group' function of job 'x' must return a string of 1 to 200 characters/,
  );
  assert.throws(
    () => newTaskRecord("x", {}, { groupConcurrency: 1 }, {}, "default"),
    /'groupConcurrency' needs a group/,
  );
  assert.throws(
    () => job({ name: "bad", group: "tenant" as never }, () => {}),
    /Invalid option 'group' of job 'bad': expected a function/,
  );
  assert.throws(
    () => job({ name: "bad", groupConcurrency: 0 }, () => {}),
    /Invalid option 'groupConcurrency' of job 'bad': expected a whole number > 0/,
  );
});

for (const kind of ["sqlite", "redis"] as const) {
  Deno.test(`fair queues (${kind}): a server's workers run every task of the groups (groupConcurrency 1) and the one without`, async () => {
    await using dir = await tempDir();
    const dataStore = kind === "sqlite"
      ? `sqlite:${dir.path}/pq.sqlite`
      : redis.url(`fair${crypto.randomUUID().slice(0, 8)}`);
    await using api = await producerFor({ dataStore });
    // Queued before any worker: every task waits in its group.
    const futures = [];
    for (let i = 0; i < 12; i++) {
      futures.push(api.tasks.queue("addition", { a: i, b: 1 }, {
        group: i % 3 === 0 ? "small" : "big",
        groupConcurrency: 1,
      }));
    }
    futures.push(api.tasks.queue("addition", { a: 100, b: 1 }));
    await using server = startServer(serverArgs({
      workers: 0,
      concurrentTasks: 4,
      dataStore,
      taskPaths: EXAMPLE_JOBS,
    }));
    await server.ready();
    const done = await Promise.all(futures);
    assert.deepEqual(
      done.map((task) => task.status),
      done.map(() => TaskStatus.SUCCESS),
    );
    // Queued while the worker waits (on Redis, handed over to it).
    const later = await Promise.all(
      ["small", "big", "small"].map((group, i) =>
        api.tasks.queue("addition", { a: i, b: 10 }, { group })
      ),
    );
    assert.deepEqual(later.map((task) => task.result), [10, 11, 12]);
    assert.deepEqual(done.slice(0, 3).map((task) => task.result), [1, 2, 3]);
    assert.equal(done[0].meta.group, "small");
    assert.deepEqual(await api.queues.groups("default"), []);
  });
}

for (const kind of ["sqlite", "redis"] as const) {
  Deno.test(`fair queues (${kind}): api.queues, pq queues --groups, pq pause --group and the dashboard's routes`, async () => {
    await using dir = await tempDir();
    const dataStore = kind === "sqlite"
      ? `sqlite:${dir.path}/pq.sqlite`
      : redis.url(`faircli${crypto.randomUUID().slice(0, 8)}`);
    await using api = await producerFor({ dataStore });
    for (let i = 0; i < 3; i++) {
      await api.tasks.queue("addition", { a: i }, {
        queue: "fair",
        group: "tenant-a",
        callback: false,
      });
    }
    await api.tasks.queue("addition", { a: 9 }, {
      queue: "fair",
      group: "<b>",
      callback: false,
    });
    assert.deepEqual(await api.queues.groups("fair"), [
      { group: "<b>", ready: 1, running: 0, paused: false },
      { group: "tenant-a", ready: 3, running: 0, paused: false },
    ]);

    const listed = await pq(dataStore, "queues", "fair", "--groups");
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(listed.stdout, /QUEUE\s+GROUP\s+READY\s+RUNNING\s+PAUSED/);
    assert.match(listed.stdout, /fair\s+tenant-a\s+3\s+0\s*\n/);
    const asJson = await pq(dataStore, "queues", "fair", "--groups", "--json");
    assert.equal(JSON.parse(asJson.stdout).fair.groups.length, 2);

    const queued = await pq(
      dataStore,
      "queue",
      "addition",
      "a=5",
      "--queue",
      "fair",
      "--group",
      "tenant-a",
      "--json",
    );
    assert.equal(queued.code, 0, queued.stderr);
    assert.equal(JSON.parse(queued.stdout).meta.group, "tenant-a");
    const refused = await pq(dataStore, "queue", "addition", "--group", "");
    assert.equal(refused.code, 2, refused.stderr);
    assert.match(refused.stderr, /Option --group must be a string of 1 to 200/);

    const paused = await pq(dataStore, "pause", "fair", "--group", "tenant-a");
    assert.equal(paused.code, 0, paused.stderr);
    assert.match(
      paused.stdout,
      /Paused group tenant-a of queue fair: workers stop taking its tasks/,
    );
    const again = await pq(dataStore, "pause", "fair", "--group", "tenant-a");
    assert.match(
      again.stdout,
      /Group tenant-a of queue fair was paused already/,
    );
    assert.equal(
      (await api.queues.groups("fair")).find((g) => g.group === "tenant-a")
        ?.paused,
      true,
    );
    const bad = await pq(dataStore, "pause", "fair", "--group", "");
    assert.equal(bad.code, 2, bad.stderr);
    assert.match(
      bad.stderr,
      /Cannot pause group as 'group' must be a string of 1 to 200 characters/,
    );

    const token = `t-${crypto.randomUUID()}`;
    await using dashboard = await startDashboard({ api, port: 0, token });
    const base = dashboard.url.replace(/\/$/, "");
    // A session, as the page opens one: its cookie, then its CSRF token.
    const opened = await fetch(`${base}/?token=${token}`, {
      redirect: "manual",
    });
    await opened.body?.cancel();
    const cookie = (opened.headers.get("set-cookie") ?? "").split(";")[0];
    const { csrf } = await (await fetch(`${base}/api/session`, {
      headers: { cookie },
    })).json();
    const call = async (path: string, body?: unknown) => {
      const response = await fetch(`${base}${path}`, {
        method: body === undefined ? "GET" : "POST",
        headers: body === undefined ? { authorization: `Bearer ${token}` } : {
          cookie,
          origin: base,
          "x-csrf-token": csrf,
          "content-type": "application/json",
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      return { status: response.status, body: await response.json() };
    };
    const read = await call("/api/groups?queue=fair");
    assert.equal(read.status, 200);
    assert.deepEqual(read.body, {
      queue: "fair",
      groups: [
        { group: "<b>", ready: 1, running: 0, paused: false },
        { group: "tenant-a", ready: 4, running: 0, paused: true },
      ],
    });
    const resumed = await call("/api/groups/resume", {
      queue: "fair",
      group: "tenant-a",
    });
    assert.deepEqual(resumed, {
      status: 200,
      body: { queue: "fair", group: "tenant-a", paused: false, changed: true },
    });
    assert.equal((await call("/api/groups")).status, 400);
    assert.equal(
      (await call("/api/groups/pause", { queue: "fair", group: "" })).status,
      400,
    );
  });
}

Deno.test("fair queues (sqlite): a producer without the job's code is told to pass the group of a job that groups by a function", async () => {
  await using dir = await tempDir();
  const dataStore = `sqlite:${dir.path}/pq.sqlite`;
  const jobs = `${dir.path}/tenant_jobs.ts`;
  await Deno.writeTextFile(
    jobs,
    `import { job } from ${JSON.stringify(MOD)};\n` +
      `export const bill = job({ name: "bill", groupConcurrency: 3, ` +
      `group: (kwargs) => String(kwargs.tenant) }, () => "billed");\n`,
  );
  await using server = startServer(serverArgs({
    workers: 0,
    dataStore,
    taskPaths: jobs,
  }));
  await server.ready();
  // This producer has not loaded the job: it reads the worker's advert.
  await using api = await new PulsarQueue({ dataStore }).api().start();
  await eventually(
    async () =>
      (await api.workers()).some((w) => w.jobs.some((j) => j.name === "bill")),
    20,
    "the worker's advert of job bill",
  );
  await assert.rejects(
    async () => await api.tasks.queue("bill", { tenant: "t1" }),
    new TypeError(
      "Cannot queue task as job 'bill' gives its tasks a group by a function this process does not have: pass the 'group' option",
    ),
  );
  const done = await api.tasks.queue("bill", { tenant: "t1" }, {
    group: "t1",
  });
  assert.equal(done.status, TaskStatus.SUCCESS);
  assert.deepEqual(
    [done.meta.group, done.meta.groupConcurrency],
    ["t1", 3],
  );
});
