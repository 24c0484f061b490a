/**
 * pulsar-queue's scheduler tests (reference §11.4) and pq's own (one leader,
 * each run once, failover), against real server processes on a store, run
 * by each store's test file.
 */
import assert from "node:assert/strict";
import { PulsarQueue, type Task } from "../mod.ts";
import {
  eventually,
  type Server,
  serverArgs,
  startServer,
  tempDir,
} from "./_server.ts";
import { LEDGER_ENV } from "./fixtures/periodic_jobs/periodic.ts";

/** The fixture jobs: a 1 s job, an anchored hourly job, a yearly cron job. */
export const PERIODIC_JOBS = new URL(
  "./fixtures/periodic_jobs/",
  import.meta.url,
).pathname;

/** The scheduler's leader lease in these tests, in seconds. */
const LEASE = 2;

/** Gives a fresh store URL for each test (a file, or a namespace). */
export type StoreFactory = (dir: string) => string;

/** One line of the ledger: a run of `testperiodic`. */
interface Run {
  scheduledAt: number;
  scheduler: string;
  id: string;
}

async function readLedger(path: string): Promise<Run[]> {
  let text = "";
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  return text.split("\n").filter(Boolean).map((line) => {
    const [scheduledAt, scheduler, id] = line.split("\t");
    return { scheduledAt: Number(scheduledAt), scheduler, id };
  });
}

/** Run time → the distinct task ids that ran for it. */
function tasksByRunTime(runs: Run[]): Map<number, Set<string>> {
  const byTime = new Map<number, Set<string>>();
  for (const run of runs) {
    const ids = byTime.get(run.scheduledAt) ?? new Set();
    ids.add(run.id);
    byTime.set(run.scheduledAt, ids);
  }
  return byTime;
}

/** Asserts every run time was queued as one task, and is a whole second. */
function assertEachRunOnce(runs: Run[]): void {
  for (const [time, ids] of tasksByRunTime(runs)) {
    assert.ok(Number.isInteger(time), `run time ${time} is off the 1 s grid`);
    assert.equal(
      ids.size,
      1,
      `run ${time} was queued ${ids.size} times: ${[...ids].join(", ")}`,
    );
  }
}

function schedulingServer(
  dataStore: string,
  options: {
    workers: number;
    ledger?: string;
    queues?: [string, string];
  },
): Server {
  return startServer(
    [
      ...serverArgs({
        workers: options.workers,
        dataStore,
        taskPaths: PERIODIC_JOBS,
        leaseTimeout: LEASE,
        taskPoolTimeout: 0.1,
        gracePeriod: 2,
        ...(options.queues
          ? {
            taskQueues: options.queues.join(","),
            defaultTaskQueue: options.queues[0],
          }
          : {}),
      }),
      "--schedule-periodic",
    ],
    { env: options.ledger ? { [LEDGER_ENV]: options.ledger } : {} },
  );
}

/** Runs the scheduler tests as steps of one test. */
export async function schedulerSuite(
  t: Deno.TestContext,
  storeFor: StoreFactory,
): Promise<void> {
  await t.step(
    "test_scheduler, test_next_scheduled, test_periodic: a 1 s job runs about once a second in the default queue",
    async () => {
      await using dir = await tempDir();
      const dataStore = storeFor(dir.path);
      const queues: [string, string] = ["testscheduler1", "testscheduler2"];
      await using server = schedulingServer(dataStore, { workers: 1, queues });
      await using api = await new PulsarQueue({
        dataStore,
        taskPaths: [PERIODIC_JOBS],
        taskQueues: queues,
        defaultTaskQueue: queues[0],
      }).api().start();

      // test_next_scheduled: the soonest of 1 s / 1 h / 1 year.
      const next = await api.tasks.nextScheduled();
      assert.ok(next, "nextScheduled() found no periodic job");
      assert.equal(next[0], "testperiodic");
      assert.ok(next[1] > 0 && next[1] <= 1, `got ${next[1]} s`);
      // test_next_scheduled_entries.
      const hourly = await api.tasks.nextScheduled(["anchoredeveryhour"]);
      assert.ok(hourly);
      assert.equal(hourly[0], "anchoredeveryhour");
      assert.ok(hourly[1] > 0 && hourly[1] <= 3600, `got ${hourly[1]} s`);
      const minute = new Date(Date.now() + hourly[1] * 1000).getUTCMinutes();
      assert.ok([24, 25].includes(minute), `runs at minute ${minute}`);
      const yearly = await api.tasks.nextScheduled(["yearly", "nope"]);
      assert.equal(yearly?.[0], "yearly");
      assert.equal(await api.tasks.nextScheduled(["nope"]), undefined);

      // test_periodic: every event is of a periodic job at one of its run
      // times; a done testperiodic task's result is a past timestamp.
      const events: Array<[string, Task]> = [];
      const done: Task[] = [];
      const callback = (_channel: string, event: string, data: unknown) => {
        const task = data as Task;
        events.push([event, task]);
        if (event === "done" && task.name === "testperiodic") done.push(task);
      };
      await api.onEvents("task", "*", callback);
      await eventually(() => done.length >= 3, 20, "3 runs of testperiodic");
      await api.removeEventCallback("task", "*", callback);
      const seen = events.length;
      for (const [event, task] of events) {
        const at = task.meta.scheduledAt as number;
        if (task.name === "anchoredeveryhour") {
          assert.equal((at - 25 * 60) % 3600, 0, `${event} of ${task}`);
          continue;
        }
        assert.equal(task.name, "testperiodic", `${event} of ${task}`);
        assert.ok(Number.isInteger(at), `run time ${at} of ${task}`);
      }
      for (const task of done) {
        assert.equal(task.statusString, "SUCCESS");
        assert.ok((task.result as number) < Date.now() / 1000);
        // test_scheduler: queued to the job's default queue (the setting's).
        assert.equal(task.queue, queues[0]);
        assert.ok(
          (task.meta.scheduledAt as number) <= task.timeQueued,
          `${task} queued before its run time`,
        );
      }
      const times = done.map((task) => task.meta.scheduledAt as number);
      assert.equal(new Set(times).size, times.length, `runs ${times}`);
      // The callback is removed: no more events reach it, while another
      // callback, added after, hears the next run's.
      const later: string[] = [];
      await api.onEvents("task", "*", (_c, event) => later.push(event));
      await eventually(() => later.length > 0, 10, "the next run's event");
      assert.equal(events.length, seen);
      assert.equal((await server.stop()).code, 0);
    },
  );

  await t.step(
    "two servers with --schedule-periodic never run a 1 s job twice in one period",
    async () => {
      await using dir = await tempDir();
      const dataStore = storeFor(dir.path);
      const ledger = `${dir.path}/ledger.txt`;
      await using first = schedulingServer(dataStore, { workers: 1, ledger });
      await using second = schedulingServer(dataStore, { workers: 1, ledger });
      await eventually(
        async () => (await readLedger(ledger)).length > 0,
        20,
        "a first run",
      );
      // Both servers compete for every run until 4 more than the first.
      await eventually(
        async () => tasksByRunTime(await readLedger(ledger)).size >= 5,
        20,
        "5 runs",
      );
      assert.equal((await first.stop()).code, 0);
      assert.equal((await second.stop()).code, 0);
      const stoppedAt = Date.now() / 1000;
      const runs = await readLedger(ledger);
      assertEachRunOnce(runs);
      const times = [...tasksByRunTime(runs).keys()].sort((a, b) => a - b);
      // About once a second: the first run and 4 more (a loose floor, not a
      // speed test), none ahead of its time.
      assert.ok(times.length >= 3, `only ${times.length} runs: ${times}`);
      assert.ok(times.at(-1)! <= stoppedAt, `runs ${times}`);
    },
  );

  await t.step(
    "when the leader is killed, the other server takes over and no run is doubled",
    async () => {
      await using dir = await tempDir();
      const dataStore = storeFor(dir.path);
      const ledger = `${dir.path}/ledger.txt`;
      // workers 0: the arbiter consumes, so SIGKILL leaves no worker behind.
      await using a = schedulingServer(dataStore, { workers: 0, ledger });
      await using b = schedulingServer(dataStore, { workers: 0, ledger });
      const servers = [a, b];
      const ownerPid = (run: Run) => Number(run.scheduler.split(":").at(-2));
      await eventually(
        async () => (await readLedger(ledger)).length >= 2,
        20,
        "runs before the kill",
      );
      const leaderPid = ownerPid((await readLedger(ledger)).at(-1)!);
      const leader = servers.find((s) => s.process.pid === leaderPid);
      const other = servers.find((s) => s.process.pid !== leaderPid)!;
      assert.ok(leader, `the leader ${leaderPid} is not one of the servers`);
      leader.process.kill("SIGKILL");
      await leader.process.status;
      const killedAt = Date.now() / 1000;
      await eventually(
        async () =>
          (await readLedger(ledger)).filter((run) =>
            ownerPid(run) === other.process.pid
          ).length >= 2,
        10 * LEASE,
        "runs queued by the other server",
      );
      assert.equal((await other.stop()).code, 0);
      const runs = await readLedger(ledger);
      assertEachRunOnce(runs);
      const byLeader = runs.filter((run) => ownerPid(run) === leaderPid);
      const byOther = runs.filter((run) => ownerPid(run) === other.process.pid);
      assert.equal(byLeader.length + byOther.length, runs.length);
      const lastOld = Math.max(...byLeader.map((run) => run.scheduledAt));
      const firstNew = Math.min(...byOther.map((run) => run.scheduledAt));
      assert.ok(lastOld < firstNew, `${lastOld} then ${firstNew}`);
      assert.ok(lastOld <= killedAt);
      // Its lease ran out within one lease of the kill; the other tries every
      // third of a lease and queues the latest run at once.
      assert.ok(
        firstNew - killedAt <= LEASE + LEASE / 3 + 1,
        `taken over ${(firstNew - killedAt).toFixed(2)} s after the kill`,
      );
    },
  );
}
