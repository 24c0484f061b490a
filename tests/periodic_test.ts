/**
 * Periodic job options and their run times (no server, fixed times).
 */
import assert from "node:assert/strict";
import { Job, job, JobRegistry } from "../mod.ts";
import {
  cronSchedule,
  everySchedule,
  scheduleOf,
  soonest,
} from "../src/model/periodic.ts";

Deno.test("runEvery runs on a grid from the epoch, or from the anchor", () => {
  const every = everySchedule(60);
  assert.equal(every.nextAfter(1_000_000), 1_000_020);
  assert.equal(every.nextAfter(1_000_020), 1_000_080);
  assert.equal(every.latestAtOrBefore(1_000_020), 1_000_020);
  assert.equal(every.latestAtOrBefore(1_000_079.9), 1_000_020);
  const anchored = everySchedule(3600, 25 * 60);
  assert.equal(anchored.nextAfter(7200), 7200 + 25 * 60);
  assert.equal(anchored.latestAtOrBefore(7200), 3600 + 25 * 60);
  // An anchor in the future aligns the runs before it too.
  const future = everySchedule(10, 1_000_005);
  assert.equal(future.nextAfter(3), 5);
  const fractional = everySchedule(0.1);
  const next = fractional.nextAfter(0.3)!;
  assert.ok(next > 0.3 && next <= 0.4 + 1e-9, `got ${next}`);
});

Deno.test("cron runs at the times the expression names, in UTC", () => {
  const fiveMinutes = cronSchedule("*/5 * * * *");
  const t = Date.UTC(2030, 0, 1, 12, 3, 10) / 1000;
  assert.equal(fiveMinutes.nextAfter(t), Date.UTC(2030, 0, 1, 12, 5) / 1000);
  assert.equal(
    fiveMinutes.latestAtOrBefore(t),
    Date.UTC(2030, 0, 1, 12, 0) / 1000,
  );
  const onTime = Date.UTC(2030, 0, 1, 12, 5) / 1000;
  assert.equal(fiveMinutes.latestAtOrBefore(onTime), onTime);
  assert.equal(fiveMinutes.nextAfter(onTime), onTime + 300);
  const mondays = cronSchedule("0 6 * * 1");
  // 2030-01-01 is a Tuesday: the next Monday is the 7th.
  assert.equal(mondays.nextAfter(t), Date.UTC(2030, 0, 7, 6) / 1000);
  const seconds = cronSchedule("*/2 * * * * *");
  assert.equal(seconds.nextAfter(1001), 1002);
  assert.equal(seconds.nextAfter(1001.5), 1002);
  assert.equal(seconds.latestAtOrBefore(1001.5), 1000);
  assert.equal(fiveMinutes.latestAtOrBefore(onTime + 0.5), onTime);
});

Deno.test("a job has runEvery or cron; bad values name the job and the value", () => {
  const ok = job({ name: "nightly", cron: "0 3 * * *" }, () => 1);
  assert.equal(ok.cron, "0 3 * * *");
  assert.throws(
    () => job({ name: "badcron", cron: "61 * * * *" }, () => 1),
    (error: Error) =>
      error instanceof TypeError && error.message.includes("'badcron'") &&
      error.message.includes('"61 * * * *"') &&
      error.message.includes("minute"),
  );
  assert.throws(
    () => job({ name: "shortcron", cron: "* * *" }, () => 1),
    /Invalid option 'cron' of job 'shortcron': expected a cron expression, got "\* \* \*"/,
  );
  assert.throws(
    () => job({ name: "notext", cron: 5 as unknown as string }, () => 1),
    /Invalid option 'cron' of job 'notext'.*got 5/,
  );
  assert.throws(
    () => job({ name: "both", runEvery: 60, cron: "* * * * *" }, () => 1),
    /job 'both': it has both 'runEvery' \(60\) and 'cron'/,
  );
  assert.throws(
    () => job({ name: "lonely", anchor: 100 }, () => 1),
    /Invalid option 'anchor' of job 'lonely': it needs 'runEvery'/,
  );
  assert.throws(
    () => job({ name: "nan", runEvery: 1, anchor: NaN }, () => 1),
    /Invalid option 'anchor' of job 'nan'/,
  );
  class BadCron extends Job {
    static override cron = "every day";
  }
  assert.throws(
    () => new JobRegistry().add(BadCron),
    /job 'badcron'.*"every day"/,
  );
});

Deno.test("jobList reports runEvery and cron jobs as periodic", () => {
  const registry = new JobRegistry();
  registry.add(job({ name: "every" }, () => 1));
  registry.add(job({ name: "often", runEvery: 5 }, () => 1));
  registry.add(job({ name: "nightly", cron: "0 3 * * *" }, () => 1));
  const types = Object.fromEntries(
    registry.jobList().map(([name, info]) => [name, info.type]),
  );
  assert.deepEqual(types, {
    every: "regular",
    nightly: "periodic",
    often: "periodic",
  });
  assert.deepEqual(
    registry.periodic().map((cls) => cls.jobName).sort(),
    ["nightly", "often"],
  );
  assert.equal(scheduleOf(registry.get("every")!), undefined);
});

Deno.test("soonest picks the job whose next run comes first", () => {
  const often = job({ name: "often", runEvery: 5 }, () => 1);
  const hourly = job({ name: "hourly", runEvery: 3600, anchor: 60 }, () => 1);
  const regular = job({ name: "regular" }, () => 1);
  const jobs = [["hourly", hourly], ["often", often], [
    "regular",
    regular,
  ]] as const;
  assert.deepEqual(soonest(jobs, 7201), ["often", 4]);
  assert.deepEqual(soonest([jobs[0]], 7201), ["hourly", 59]);
  assert.equal(soonest([jobs[2]], 7201), undefined);
  assert.equal(soonest([], 7201), undefined);
});
