// What one task costs over its whole life through a queue library's real
// producer and worker: Redis commands and Redis time per task, queued alone
// and queued 1000 a call, and the worker process's CPU per task while it
// drains at C=100. The driver of bench/commands_per_task.ts, which runs it
// for pq (in its own Deno process, with bench/pq_harness.ts's adapter) and
// for the peers (with node, this file as the script):
//
//   node bench/peers/per_task.mjs bench/peers/bee_harness.mjs
//   REDIS_HOST=127.0.0.1 REDIS_PORT=6379 N=10000 \
//     node bench/peers/per_task.mjs bench/peers/bullmq_harness.mjs
//
// It uses the harness's own adapter (its producer, and its worker process,
// forked as `<harness> worker 100`, as in the side-by-side drains) and
// prints one JSON line. Without REDIS_PORT it starts a private redis-server.
//
// One measure (`life(mode)`), on a flushed Redis:
//   1. fork the worker process (C=100), wait for "ready" (not consuming yet),
//      open the producer, wait SETTLE_MS;
//   2. snapshot INFO commandstats and INFO cpu;
//   3. queue N tasks: one `add` each ("alone") or `addBulk` of 1000
//      ("bulk");
//   4. read the worker's CPU time (utime + stime of /proc/<pid>/stat: all of
//      its threads), send "go", wait until it reports N completions (it
//      reports at most every 20 ms), read its CPU time again;
//   5. the adapter's `openRetention` hook, if any, drops the finished
//      records as their retention would (pq: its reclaim with the clock
//      past `resultTtl`; the peers keep finished jobs by default, so there
//      is nothing to drop);
//   6. snapshot again; the difference, less the one INFO of step 2 and less
//      the idle baseline, is the task's life.
// A third measure, "live" (`alone_live` in the JSON line): the worker is
// sent "go" before step 2, so the tasks, queued one `add` at a time, reach
// a running worker (pq then hands a task to an idle worker inside its
// enqueue script); its CPU is read from step 2 to the N-th completion.
// The idle baseline: the same worker, consuming an empty queue, with the
// producer open, for IDLE_MS after SETTLE_MS; its commands per second times
// the seconds between the two snapshots are subtracted (BullMQ's worker
// polls when idle, e.g. a BZPOPMIN every few seconds, which a 3 s window
// may miss; pq's and Bee-Queue's send nothing).
//
// Figures, per task (N tasks):
//   commands        calls of INFO commandstats (which also counts the
//                   commands a Lua script or MULTI runs, as well as the
//                   EVALSHA or EXEC itself)
//   cmdstat_usec    the `usec` of INFO commandstats, summed over commands:
//                   the time Redis spent executing commands. A script's
//                   `usec` includes the commands it runs, which also count
//                   on their own, so this sum counts them twice
//   runner_usec     the `usec` of the commands that run others (eval*,
//                   evalsha*, fcall*, exec) alone: their own commands
//                   included, once; a lower bound of the time of the
//                   commands clients sent (their other commands are missing)
//   redis_cpu_usec  redis-server's user + system CPU (INFO cpu, all its
//                   threads) over the same span: execution, parsing,
//                   replies, socket reads and writes
//   worker_cpu_usec the worker process's CPU from "go" to the N-th
//                   completion, divided by N (10 ms ticks: N ≥ 10,000
//                   keeps the tick under 1 µs a task)
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { Control, isEntry, now, startRedis, WorkerProc } from "./common.mjs";

const C = 100;
const BULK = 1000;
const SETTLE_MS = 1000;
const IDLE_MS = 3000;
/** Commands that run other commands, whose `usec` includes theirs. */
const RUNNERS = new Set([
  "eval",
  "evalsha",
  "eval_ro",
  "evalsha_ro",
  "fcall",
  "fcall_ro",
  "exec",
]);

const log = (...a) =>
  console.error(`[${new Date().toISOString().slice(11, 23)}]`, ...a);

let clockTicks = 0;
/** CPU time (µs) of process `pid` so far: utime + stime, all threads. */
function processCpuUs(pid) {
  if (!clockTicks) {
    try {
      clockTicks = Number(
        execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim(),
      ) || 100;
    } catch {
      clockTicks = 100;
    }
  }
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // fields after "(comm)": state is field 3, utime 14, stime 15
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return ((Number(fields[11]) + Number(fields[12])) * 1e6) / clockTicks;
}

/** INFO commandstats as name -> { calls, usec }. */
function parseCommandStats(info) {
  const out = new Map();
  for (const m of info.matchAll(/^cmdstat_([^:]+):calls=(\d+),usec=(\d+)/gm)) {
    out.set(m[1], { calls: Number(m[2]), usec: Number(m[3]) });
  }
  return out;
}

/** Redis-side counters: commandstats and the server's CPU (µs). */
async function snapshot(control) {
  // one INFO call (sections of Redis 7): the next snapshot counts it once
  const info = await control.command("INFO", "commandstats", "cpu");
  const user = Number(/used_cpu_user:([\d.]+)/.exec(info)[1]);
  const sys = Number(/used_cpu_sys:([\d.]+)/.exec(info)[1]);
  return {
    stats: parseCommandStats(info),
    cpuUs: (user + sys) * 1e6,
    at: now(),
  };
}

/**
 * after - before, by command: { calls, usec }, less the driver's own INFO
 * calls (`infos`: the snapshots taken in between, the first included).
 */
function difference(before, after, infos) {
  const out = new Map();
  for (const [name, a] of after.stats) {
    const b = before.stats.get(name) ?? { calls: 0, usec: 0 };
    let calls = a.calls - b.calls;
    let usec = a.usec - b.usec;
    if (name === "info") {
      // the INFO calls of the snapshots (usec: their share of it)
      const share = calls > 0 ? usec * Math.min(1, infos / calls) : 0;
      calls -= infos;
      usec -= share;
    }
    if (calls > 0) out.set(name, { calls, usec });
  }
  return out;
}

const r2 = (x) => Math.round(x * 100) / 100;

/**
 * Per-task figures of a measured span (see the header), less the idle
 * baseline (per second) times its `seconds`.
 */
function figures(diff, idle, seconds, n) {
  let commands = 0, usec = 0, runnerUsec = 0;
  const byCommand = {};
  for (const [name, { calls, usec: us }] of diff) {
    const rate = idle.get(name) ?? { calls: 0, usec: 0 };
    const c = Math.max(0, calls - rate.calls * seconds);
    const u = Math.max(0, us - rate.usec * seconds);
    if (c <= 0) continue;
    commands += c;
    usec += u;
    if (RUNNERS.has(name)) runnerUsec += u;
    byCommand[name] = Math.round((c / n) * 1000) / 1000;
  }
  return {
    commands_per_task: r2(commands / n),
    cmdstat_usec_per_task: r2(usec / n),
    runner_usec_per_task: r2(runnerUsec / n),
    by_command_per_task: byCommand,
  };
}

/**
 * Measures one system with its harness adapter: the idle baseline, then
 * the life of N tasks queued alone and queued 1000 a call. `script` is the
 * harness file forked as the worker process.
 */
export async function measure(adapter, script, options = {}) {
  const n = options.n ?? Number(process.env.N ?? 10000);
  const host = process.env.REDIS_HOST ?? "127.0.0.1";
  const port = Number(process.env.REDIS_PORT);
  const env = { ...process.env, REDIS_HOST: host, REDIS_PORT: String(port) };
  const control = await Control.open(host, port);
  try {
    const server = await control.info("server");
    const flush = () => control.command("FLUSHALL");

    const spawnWorker = async () => {
      const w = new WorkerProc(script, C, env);
      const ready = await w.waitFor("ready");
      return { w, pid: ready.pid ?? w.child.pid };
    };

    // idle baseline: commands per second of a consuming worker and an open
    // producer, on an empty queue
    await flush();
    const idle = new Map();
    {
      const { w } = await spawnWorker();
      const p = await adapter.openProducer({ events: false });
      try {
        w.go();
        await sleep(SETTLE_MS);
        const a = await snapshot(control);
        await sleep(IDLE_MS);
        const b = await snapshot(control);
        const seconds = (b.at - a.at) / 1000;
        for (const [name, d] of difference(a, b, 1)) {
          idle.set(name, { calls: d.calls / seconds, usec: d.usec / seconds });
        }
      } finally {
        await w.stop();
        await p.close();
      }
    }

    const life = async (mode) => {
      await flush();
      const { w, pid } = await spawnWorker();
      const p = await adapter.openProducer({ events: false });
      const retention = await adapter.openRetention?.();
      try {
        // "live": the worker consumes before the first task is queued (the
        // tasks reach a running worker, one at a time); otherwise it starts
        // once all N are queued
        const live = mode === "live";
        if (live) w.go();
        await sleep(SETTLE_MS);
        const s0 = await snapshot(control);
        let cpu0 = processCpuUs(pid);
        let tGo = now();
        const tQueue = now();
        if (mode === "bulk") {
          for (let at = 0; at < n; at += BULK) {
            const batch = [];
            for (let i = at; i < Math.min(n, at + BULK); i++) batch.push({ i });
            await p.addBulk(batch);
          }
        } else {
          for (let i = 0; i < n; i++) await p.add({ i });
        }
        const queueMs = now() - tQueue;
        if (!live) {
          cpu0 = processCpuUs(pid);
          tGo = now();
          w.go();
        }
        const deadline = Date.now() + Math.max(120_000, n * 10);
        while (w.count < n) {
          if (w.exited) throw new Error(`${mode}: the worker exited early`);
          if (Date.now() > deadline) {
            throw new Error(`${mode}: ${w.count}/${n} done before timeout`);
          }
          await sleep(2);
        }
        const cpu1 = processCpuUs(pid);
        const drainMs = w.last - tGo;
        await retention?.drop(n);
        const s1 = await snapshot(control);
        const seconds = (s1.at - s0.at) / 1000;
        const diff = difference(s0, s1, 1);
        const f = figures(diff, idle, seconds, n);
        await w.stop();
        const counts = await p.counts();
        return {
          commands_per_task: f.commands_per_task,
          cmdstat_usec_per_task: f.cmdstat_usec_per_task,
          runner_usec_per_task: f.runner_usec_per_task,
          redis_cpu_usec_per_task: r2((s1.cpuUs - s0.cpuUs) / n),
          worker_cpu_usec_per_task: r2((cpu1 - cpu0) / n),
          queue_ms: r2(queueMs),
          drain_ms: r2(drainMs),
          drain_jobs_s: Math.round(n / (drainMs / 1000)),
          span_s: r2(seconds),
          completions: w.count,
          counts_after: counts,
          by_command_per_task: f.by_command_per_task,
        };
      } finally {
        await w.stop();
        await retention?.close();
        await p.close();
      }
    };

    const alone = await life("alone");
    log(`${adapter.lib}: alone ${JSON.stringify(alone)}`);
    const bulk = await life("bulk");
    log(`${adapter.lib}: bulk ${JSON.stringify(bulk)}`);
    const live = await life("live");
    log(`${adapter.lib}: live ${JSON.stringify(live)}`);
    await flush();
    const idleByCommand = {};
    for (const [name, { calls }] of idle) idleByCommand[name] = r2(calls);
    return {
      system: adapter.lib,
      version: adapter.version,
      runtime: adapter.runtime ?? `node ${process.version}`,
      redis: /redis_version:(\S+)/.exec(server)?.[1],
      n,
      concurrency: C,
      bulk: BULK,
      idle_commands_per_s: idleByCommand,
      alone,
      bulk_1000: bulk,
      alone_live: live,
    };
  } finally {
    control.disconnect();
  }
}

if (isEntry(import.meta.url)) {
  const harness = process.argv[2];
  if (!harness) {
    console.error("usage: node bench/peers/per_task.mjs <harness.mjs>");
    process.exit(2);
  }
  const { realpathSync } = await import("node:fs");
  const { pathToFileURL } = await import("node:url");
  const script = realpathSync(harness);
  const { adapter } = await import(pathToFileURL(script).href);
  let redis = null;
  if (!process.env.REDIS_PORT) {
    redis = await startRedis();
    process.env.REDIS_HOST = "127.0.0.1";
    process.env.REDIS_PORT = String(redis.port);
  }
  try {
    const result = await measure(adapter, script);
    process.stdout.write(JSON.stringify(result) + "\n");
  } finally {
    await redis?.stop();
  }
  // libraries sometimes leave timers behind; the result is already printed
  setTimeout(() => process.exit(0), 200).unref();
}
