/**
 * Schedules managed at run time with real servers (`--schedule-periodic`),
 * on SQLite and on Redis: `pq schedules` adds, lists, shows, pauses,
 * resumes and removes them, and a schedule added while the servers run
 * is run by them; two servers, the leader killed between two runs: the
 * other queues the next runs, and no due time twice.
 */
import assert from "node:assert/strict";
import { startRedis } from "./_redis.ts";
import {
  eventually,
  runPq,
  type Server,
  serverArgs,
  startServer,
  tempDir,
} from "./_server.ts";
import { PulsarQueue } from "../mod.ts";
import { SCHEDULE_LEDGER_ENV } from "./fixtures/schedule_jobs/ledger.ts";

const JOBS = new URL("./fixtures/schedule_jobs/", import.meta.url).pathname;
/** The scheduler's leader lease in these tests, in seconds. */
const LEASE = 2;

const redis = await startRedis();
globalThis.addEventListener("unload", () => redis.stopSync());

let namespaces = 0;
const STORES: Array<[string, (dir: string) => string]> = [
  ["sqlite", (dir) => `sqlite:${dir}/pq.sqlite`],
  ["redis", () => redis.url(`schedsrv${namespaces++}`)],
];

/** `pq <args>` on a store with the fixture jobs. */
function pq(store: string, ...args: string[]) {
  return runPq([...args, "--data-store", store, "--task-paths", JOBS]);
}

/** A server that consumes in its arbiter and schedules. */
function schedulingServer(store: string, ledger: string): Server {
  return startServer(
    [
      ...serverArgs({
        workers: 0,
        dataStore: store,
        taskPaths: JOBS,
        leaseTimeout: LEASE,
        taskPoolTimeout: 0.1,
        gracePeriod: 2,
      }),
      "--schedule-periodic",
    ],
    { env: { [SCHEDULE_LEDGER_ENV]: ledger } },
  );
}

/** One line of the ledger: a run of the fixture job. */
interface Run {
  due: number;
  scheduler: string;
  id: string;
  schedule: string;
}

async function readLedger(path: string): Promise<Run[]> {
  const text = await Deno.readTextFile(path).catch(() => "");
  return text.split("\n").filter(Boolean).map((line) => {
    const [due, scheduler, id, schedule] = line.split("\t");
    return { due: Number(due), scheduler, id, schedule };
  });
}

for (const [name, storeFor] of STORES) {
  Deno.test(`pq schedules on a server (${name}): add, list, show, pause, resume, remove; the server runs what was added`, async () => {
    await using dir = await tempDir();
    const store = storeFor(dir.path);
    const ledger = `${dir.path}/ledger.txt`;
    await using server = schedulingServer(store, ledger);
    await server.ready();

    let run = await pq(store, "schedules");
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^No schedules/);

    run = await pq(
      store,
      "schedules",
      "add",
      "tick",
      "scheduled",
      "n=7",
      "--every",
      "1",
    );
    assert.equal(run.code, 0, run.stderr);
    assert.match(
      run.stdout,
      /^Added schedule tick: scheduled every 1 s, next run \d{4}-\d\d-\d\dT/,
    );
    // The server, told of the change, runs it: a run with the kwargs.
    await eventually(
      async () => (await readLedger(ledger)).some((r) => r.schedule === "tick"),
      20,
      "a run of schedule tick",
    );
    const [first] = await readLedger(ledger);
    assert.equal(first.id, `schedule:tick:${Math.round(first.due * 1000)}`);
    await using api = await new PulsarQueue({
      dataStore: store,
      taskPaths: [JOBS],
    })
      .api().start();
    const task = await api.tasks.get(first.id);
    assert.equal(task?.kwargs.n, 7);

    run = await pq(
      store,
      "schedules",
      "add",
      "nightly",
      "scheduled",
      "--cron",
      "30 2 * * *",
      "--tz",
      "Europe/Berlin",
      "--limit",
      "3",
    );
    assert.equal(run.code, 0, run.stderr);
    run = await pq(store, "schedules");
    assert.equal(run.code, 0, run.stderr);
    const lines = run.stdout.trim().split("\n");
    assert.match(lines[0], /^ID\s+JOB\s+SCHEDULE\s+STATE\s+RUNS\s+NEXT RUN$/);
    assert.match(
      lines[1],
      /^nightly\s+scheduled\s+cron "30 2 \* \* \*" Europe\/Berlin\s+active\s+0\/3\s+\d{4}-/,
    );
    assert.match(
      lines[2],
      /^tick\s+scheduled\s+every 1 s\s+active\s+\d+\s+\d{4}-/,
    );

    run = await pq(store, "schedules", "show", "nightly", "--count", "3");
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^id:\s+nightly$/m);
    assert.match(run.stdout, /^runs:\s+0 of 3$/m);
    const next = run.stdout.match(/^next runs:\s+(.*)$/m)?.[1].split(", ");
    assert.equal(next?.length, 3);
    // 02:30 in Berlin is 00:30 or 01:30 UTC.
    for (const time of next!) assert.match(time, /T0[01]:30:00\.000Z$/);

    run = await pq(store, "schedules", "pause", "tick");
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^Paused schedule tick/);
    run = await pq(store, "schedules", "pause", "tick", "--json");
    assert.deepEqual(JSON.parse(run.stdout), { id: "tick", changed: false });
    const info = (await api.schedules.get("tick"))!;
    assert.equal(info.paused, true);
    run = await pq(store, "schedules", "resume", "tick");
    assert.match(run.stdout, /^Resumed schedule tick/);
    run = await pq(store, "schedules", "remove", "tick", "--json");
    assert.deepEqual(JSON.parse(run.stdout), { id: "tick", removed: true });
    run = await pq(store, "schedules", "--json");
    assert.deepEqual(JSON.parse(run.stdout).map((s: { id: string }) => s.id), [
      "nightly",
    ]);

    // Bad usage: said, exit 2; an unknown schedule: exit 1.
    const refused = async (args: string[], code: number, message: RegExp) => {
      const bad = await pq(store, "schedules", ...args);
      assert.equal(bad.code, code, bad.stderr);
      assert.match(bad.stderr, message);
    };
    await refused(
      ["add", "x", "scheduled", "--every", "1", "--cron", "* * * * *"],
      2,
      /exactly one of 'every' \(seconds\) and 'cron': got both/,
    );
    await refused(
      [
        "add",
        "x",
        "scheduled",
        "--cron",
        "30 2 * * *",
        "--tz",
        "Europe/Berlinn",
      ],
      2,
      /did you mean 'Europe\/Berlin'/,
    );
    await refused(
      ["add", "x", "scheduled", "--every", "soon"],
      2,
      /--every needs a number/,
    );
    await refused(["frob"], 2, /Unknown subcommand 'frob' of schedules/);
    await refused(
      ["pause", "nightly", "--every", "5"],
      2,
      /--every is for 'pq schedules add'/,
    );
    await refused(["pause", "nope"], 1, /no such schedule/);
    await refused(["show", "nope"], 1, /no schedule 'nope'/);
    assert.equal((await server.stop()).code, 0);
  });

  Deno.test(`schedules on two servers (${name}): the leader killed between two runs, the other queues the next ones, no due time twice`, async () => {
    await using dir = await tempDir();
    const store = storeFor(dir.path);
    const ledger = `${dir.path}/ledger.txt`;
    await using a = schedulingServer(store, ledger);
    await using b = schedulingServer(store, ledger);
    await a.ready();
    await b.ready();
    {
      await using api = await new PulsarQueue({
        dataStore: store,
        taskPaths: [JOBS],
      })
        .api().start();
      await api.schedules.upsert({ id: "s", job: "scheduled", every: 1 });
    }
    const servers = [a, b];
    const pidOf = (run: Run) => Number(run.scheduler.split(":").at(-2));
    await eventually(
      async () => (await readLedger(ledger)).length >= 2,
      20,
      "runs before the kill",
    );
    const leaderPid = pidOf((await readLedger(ledger)).at(-1)!);
    const leader = servers.find((s) => s.process.pid === leaderPid);
    const other = servers.find((s) => s.process.pid !== leaderPid)!;
    assert.ok(leader, `the leader ${leaderPid} is not one of the servers`);
    leader.process.kill("SIGKILL");
    await leader.process.status;
    await eventually(
      async () =>
        (await readLedger(ledger)).filter((run) =>
          pidOf(run) === other.process.pid
        ).length >= 2,
      10 * LEASE,
      "runs queued by the other server",
    );
    assert.equal((await other.stop()).code, 0);
    const runs = await readLedger(ledger);
    // Each due time was queued once: one task id, by one scheduler.
    const byDue = Map.groupBy(runs, (run) => run.due);
    for (const [due, same] of byDue) {
      assert.equal(new Set(same.map((run) => run.id)).size, 1, `due ${due}`);
      assert.equal(new Set(same.map(pidOf)).size, 1, `due ${due}`);
    }
    const byLeader = runs.filter((run) => pidOf(run) === leaderPid);
    const byOther = runs.filter((run) => pidOf(run) === other.process.pid);
    assert.equal(byLeader.length + byOther.length, runs.length);
    // The new leader went on from the next due time: none it queued was
    // the killed leader's.
    const lastOld = Math.max(...byLeader.map((run) => run.due));
    const firstNew = Math.min(...byOther.map((run) => run.due));
    assert.ok(lastOld < firstNew, `${lastOld} then ${firstNew}`);
  });
}
