// Shared driver for the peer-queue harnesses (bullmq_harness.mjs, bee_harness.mjs).
//
// Implements every scenario of the workload of docs/benchmarks.md once; each
// harness only supplies an adapter for its queue library:
//
//   adapter = {
//     lib, version,
//     // producer side (this process)
//     openProducer({ events }) -> { add(data), addBulk(datas), onCompleted(cb), counts(), close() }
//        onCompleted(cb): cb(i) is called as soon as the producer receives the
//        completion event of the job whose payload is { i } (needs events: true)
//        counts(): { waiting, active, completed, failed } as recorded in Redis
//        (the driver checks `waiting` after enqueueing, `completed` after a drain)
//     // worker side (a forked child process)
//     openWorker({ concurrency, onCompleted }) -> { go(), close() }
//        resolves once connected and ready, but NOT consuming; go() starts
//        consuming; onCompleted() is called for each job once the library
//        reports it completed (i.e. already recorded as done in Redis).
//   }
//
// Process layout: `node <harness>.mjs` is the producer/driver;
// `node <harness>.mjs worker <C>` (forked with an IPC channel) is a worker
// process. Protocol over IPC: worker -> {ev:"ready"}, parent -> {cmd:"go"},
// worker -> {ev:"progress", count, first, last} (coalesced, at most every
// 20 ms; `last` is the time of its latest completion), parent -> {cmd:"stop"},
// worker -> {ev:"stopped"}.
//
// Environment: REDIS_HOST, REDIS_PORT (if unset, a private redis-server is
// started on a free port and stopped at the end), N (default 20000), and, for
// debugging only, SCENARIOS=enqueue_serial,enqueue_bulk,drain_c1,drain_c10,
// drain_c100,drain_2p_c50,latency,idle (comma-separated subset; metrics of
// skipped scenarios are null). Scenario failures are reported in
// detail.errors and leave their metric null. Progress goes to stderr.
//
// detail (per scenario): span_ms, Redis-side counts after the run (exactly-N
// check), completions per worker process, latency extras (p90/p99.9/max,
// open-loop schedule lag), idle commands by name, and clock_skew_ms: each
// worker's (clock - CLOCK_MONOTONIC) minus the driver's, i.e. how far the
// shared clock disagrees between processes.

import { fork, spawn } from "node:child_process";
import { realpathSync } from "node:fs";
import { connect, createServer } from "node:net";
import { cpus, tmpdir } from "node:os";
import { performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";

// The driver itself uses node built-ins only (its own Redis commands go
// through the small RESP client below), so that pq's harness, which runs
// this driver under Deno, needs nothing from bench/peers/node_modules. Only
// the peers' adapters load their npm packages.

/**
 * A minimal Redis client for the driver's own commands (PING, INFO,
 * FLUSHDB): one connection, RESP2 replies, commands answered in order.
 */
export class Control {
  static open(host, port) {
    return new Promise((res, rej) => {
      const socket = connect({ host, port });
      socket.once("error", rej);
      socket.once("connect", () => {
        socket.off("error", rej);
        res(new Control(socket));
      });
    });
  }
  constructor(socket) {
    this.socket = socket;
    this.buffer = Buffer.alloc(0);
    this.waiting = [];
    socket.setNoDelay(true);
    socket.on("data", (chunk) => {
      this.buffer = Buffer.concat([this.buffer, chunk]);
      for (;;) {
        const parsed = parseReply(this.buffer, 0);
        if (!parsed) break;
        this.buffer = this.buffer.subarray(parsed.end);
        const { res, rej } = this.waiting.shift();
        if (parsed.value instanceof Error) rej(parsed.value);
        else res(parsed.value);
      }
    });
    const fail = (e) => {
      for (const { rej } of this.waiting.splice(0)) {
        rej(e ?? new Error("Redis connection closed"));
      }
    };
    socket.on("error", fail);
    socket.on("close", () => fail());
  }
  command(...args) {
    let out = `*${args.length}\r\n`;
    for (const a of args.map(String)) {
      out += `$${Buffer.byteLength(a)}\r\n${a}\r\n`;
    }
    return new Promise((res, rej) => {
      this.waiting.push({ res, rej });
      this.socket.write(out);
    });
  }
  ping() {
    return this.command("PING");
  }
  info(section) {
    return this.command("INFO", section);
  }
  flushdb() {
    return this.command("FLUSHDB");
  }
  disconnect() {
    this.socket.destroy();
  }
}

/** One RESP2 reply from `buf` at `at`: { value, end }, or null if incomplete. */
function parseReply(buf, at) {
  const eol = buf.indexOf("\r\n", at);
  if (eol < 0) return null;
  const type = String.fromCharCode(buf[at]);
  const line = buf.toString("utf8", at + 1, eol);
  const next = eol + 2;
  switch (type) {
    case "+":
      return { value: line, end: next };
    case "-":
      return { value: new Error(line), end: next };
    case ":":
      return { value: Number(line), end: next };
    case "$": {
      const len = Number(line);
      if (len < 0) return { value: null, end: next };
      if (buf.length < next + len + 2) return null;
      return {
        value: buf.toString("utf8", next, next + len),
        end: next + len + 2,
      };
    }
    case "*": {
      const count = Number(line);
      if (count < 0) return { value: null, end: next };
      const value = [];
      let end = next;
      for (let i = 0; i < count; i++) {
        const item = parseReply(buf, end);
        if (!item) return null;
        value.push(item.value);
        end = item.end;
      }
      return { value, end };
    }
    default:
      throw new Error(`unexpected Redis reply type ${JSON.stringify(type)}`);
  }
}

/** The shared monotonic clock (ms), as the workload spec prescribes. */
export const now = () => performance.timeOrigin + performance.now();
/** now() minus CLOCK_MONOTONIC (ms): compared across processes to check skew. */
const clockOffset = () => {
  const a = now();
  const h = Number(process.hrtime.bigint()) / 1e6;
  const b = now();
  return (a + b) / 2 - h;
};

const BULK = 1000;
const LATENCY_RATE = 500; // jobs/s
const LATENCY_SECONDS = 10;
const LATENCY_WORKER_C = 10;
const IDLE_SECONDS = 10;
const IDLE_WORKER_C = 100;
const SETTLE_MS = 1000; // after "go", before latency / idle measurement starts

const log = (...a) =>
  console.error(`[${new Date().toISOString().slice(11, 23)}]`, ...a);

// ---------------------------------------------------------------------------
// worker process

async function workerMain(adapter, concurrency) {
  process.on("disconnect", () => process.exit(3)); // parent died
  let count = 0, first = 0, last = 0, sent = -1;
  const w = await adapter.openWorker({
    concurrency,
    onCompleted: () => {
      const t = now();
      if (count === 0) first = t;
      last = t;
      count++;
    },
  });
  const flush = () => {
    if (count !== sent) {
      sent = count;
      process.send({ ev: "progress", count, first, last });
    }
  };
  const timer = setInterval(flush, 20);
  process.on("message", async (m) => {
    if (m.cmd === "go") {
      w.go();
    } else if (m.cmd === "stop") {
      try {
        await w.close();
      } catch (e) {
        log(`worker close: ${e?.message ?? e}`);
      }
      clearInterval(timer);
      flush();
      process.send({ ev: "stopped" }, () => process.exit(0));
    }
  });
  process.send({ ev: "ready", clockOffset: clockOffset(), pid: process.pid });
}

// ---------------------------------------------------------------------------
// driver side helpers

export class WorkerProc {
  constructor(script, concurrency, env) {
    this.count = 0;
    this.first = 0;
    this.last = 0;
    this.listeners = new Set();
    this.exited = false;
    // child stdout goes to our stderr: our stdout carries exactly one JSON line
    this.child = fork(script, ["worker", String(concurrency)], {
      env,
      stdio: ["ignore", 2, 2, "ipc"],
    });
    this.child.on("message", (m) => {
      if (m.ev === "progress") {
        this.count = m.count;
        this.first = m.first;
        this.last = m.last;
      }
      for (const l of this.listeners) l(m);
    });
    this.exitP = new Promise((res) =>
      this.child.on("exit", (code, sig) => {
        this.exited = true;
        for (const l of this.listeners) l({ ev: "exit", code, sig });
        res({ code, sig });
      })
    );
  }
  waitFor(ev, ms = 60_000) {
    return new Promise((res, rej) => {
      const t = setTimeout(() => {
        this.listeners.delete(l);
        rej(new Error(`worker ${this.child.pid}: no '${ev}' within ${ms} ms`));
      }, ms);
      const l = (m) => {
        if (m.ev === ev) {
          clearTimeout(t);
          this.listeners.delete(l);
          res(m);
        } else if (m.ev === "exit") {
          clearTimeout(t);
          this.listeners.delete(l);
          rej(
            new Error(
              `worker ${this.child.pid} exited (${
                m.code ?? m.sig
              }) waiting for '${ev}'`,
            ),
          );
        }
      };
      this.listeners.add(l);
    });
  }
  go() {
    this.child.send({ cmd: "go" });
  }
  async stop() {
    if (this.exited) return;
    try {
      this.child.send({ cmd: "stop" });
      await this.waitFor("stopped", 15_000);
    } catch (e) {
      log(`stop: ${e.message}; killing ${this.child.pid}`);
      this.child.kill("SIGKILL");
    }
    const t = setTimeout(() => this.child.kill("SIGKILL"), 5_000);
    await this.exitP;
    clearTimeout(t);
  }
}

function freePort() {
  return new Promise((res, rej) => {
    const s = createServer();
    s.unref();
    s.on("error", rej);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => res(port));
    });
  });
}

export async function startRedis() {
  const port = await freePort();
  const child = spawn("redis-server", [
    "--port",
    String(port),
    "--bind",
    "127.0.0.1",
    "--save",
    "",
    "--appendonly",
    "no",
    "--dir",
    tmpdir(),
  ], { stdio: "ignore" });
  const exited = new Promise((res) => child.on("exit", res));
  const deadline = Date.now() + 10_000;
  for (;;) {
    let c;
    try {
      c = await Control.open("127.0.0.1", port);
      await c.ping();
      c.disconnect();
      break;
    } catch {
      c?.disconnect();
      if (Date.now() > deadline || child.exitCode !== null) {
        throw new Error(`redis-server on port ${port} did not start`);
      }
      await sleep(50);
    }
  }
  log(`started private redis-server on 127.0.0.1:${port} (pid ${child.pid})`);
  return {
    port,
    async stop() {
      if (child.exitCode === null) child.kill("SIGTERM");
      await exited;
    },
  };
}

function commandStats(info) {
  const out = {};
  for (const line of info.split(/\r?\n/)) {
    const m = /^cmdstat_([^:]+):calls=(\d+)/.exec(line);
    if (m) out[m[1]] = Number(m[2]);
  }
  return out;
}

function nearestRank(sorted, p) {
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1];
}

const r1 = (
  x,
) => (x == null || !Number.isFinite(x) ? null : Math.round(x * 10) / 10);
const r3 = (
  x,
) => (x == null || !Number.isFinite(x) ? null : Math.round(x * 1000) / 1000);

// ---------------------------------------------------------------------------
// driver

async function driverMain(adapter, script) {
  const N = Number(process.env.N ?? 20000);
  if (!Number.isInteger(N) || N <= 0) throw new Error(`bad N=${process.env.N}`);
  let redis = null;
  let host = process.env.REDIS_HOST ?? "127.0.0.1";
  let port = process.env.REDIS_PORT ? Number(process.env.REDIS_PORT) : null;
  if (port == null) {
    redis = await startRedis();
    host = "127.0.0.1";
    port = redis.port;
  }
  const env = { ...process.env, REDIS_HOST: host, REDIS_PORT: String(port) };
  process.env.REDIS_HOST = host;
  process.env.REDIS_PORT = String(port);

  const control = await Control.open(host, port);
  const result = {
    lib: adapter.lib,
    version: adapter.version,
    runtime: adapter.runtime ?? `node ${process.version}`,
    n: N,
    bulk: BULK,
    enqueue_serial_jobs_s: null,
    enqueue_bulk_jobs_s: null,
    drain_c1_jobs_s: null,
    drain_c10_jobs_s: null,
    drain_c100_jobs_s: null,
    drain_2p_c50_jobs_s: null,
    latency_p50_ms: null,
    latency_p99_ms: null,
    idle_commands_s: null,
    detail: {},
  };
  const detail = result.detail;
  const serverInfo = await control.info("server");
  detail.redis_version = /redis_version:(\S+)/.exec(serverInfo)?.[1];
  detail.redis = `${host}:${port}${
    redis ? " (private, started by harness)" : ""
  }`;
  detail.cpus = cpus().length;
  detail.clock = "performance.timeOrigin + performance.now()";
  detail.clock_skew_ms = []; // worker clockOffset - driver clockOffset, per worker process
  detail.errors = {};
  const myOffset = clockOffset();

  const spawnWorkers = async (procs, c) => {
    const ws = Array.from(
      { length: procs },
      () => new WorkerProc(script, c, env),
    );
    try {
      const readies = await Promise.all(ws.map((w) => w.waitFor("ready")));
      for (const r of readies) {
        detail.clock_skew_ms.push(r3(r.clockOffset - myOffset));
      }
    } catch (e) {
      await Promise.all(ws.map((w) => w.stop()));
      throw e;
    }
    return ws;
  };
  const withProducer = async (opts, fn) => {
    const p = await adapter.openProducer(opts);
    try {
      return await fn(p);
    } finally {
      await p.close();
    }
  };
  const prequeue = (p, n) => withBatches(n, (batch) => p.addBulk(batch));

  const scenarios = [
    ["enqueue_serial", () => {
      return withProducer({ events: false }, async (p) => {
        const t0 = now();
        for (let i = 0; i < N; i++) await p.add({ i });
        const span = now() - t0;
        const counts = await p.counts();
        detail.enqueue_serial = { span_ms: r3(span), counts };
        if (counts.waiting !== N) {
          throw new Error(
            `enqueue_serial: ${counts.waiting} waiting, expected ${N}`,
          );
        }
        result.enqueue_serial_jobs_s = r1(N / (span / 1000));
      });
    }],
    ["enqueue_bulk", () => {
      return withProducer({ events: false }, async (p) => {
        const t0 = now();
        await prequeue(p, N);
        const span = now() - t0;
        const counts = await p.counts();
        detail.enqueue_bulk = {
          span_ms: r3(span),
          batches: Math.ceil(N / BULK),
          counts,
        };
        if (counts.waiting !== N) {
          throw new Error(
            `enqueue_bulk: ${counts.waiting} waiting, expected ${N}`,
          );
        }
        result.enqueue_bulk_jobs_s = r1(N / (span / 1000));
      });
    }],
    ...[[1, 1, "drain_c1"], [1, 10, "drain_c10"], [1, 100, "drain_c100"], [
      2,
      50,
      "drain_2p_c50",
    ]].map(
      ([procs, c, key]) => [key, async () => {
        await withProducer({ events: false }, (p) => prequeue(p, N));
        const ws = await spawnWorkers(procs, c);
        let tGo, tEnd, total;
        try {
          const deadline = Date.now() + Math.max(300_000, N * 10);
          tGo = now();
          for (const w of ws) w.go();
          for (;;) {
            total = ws.reduce((s, w) => s + w.count, 0);
            if (total >= N) break;
            if (ws.some((w) => w.exited)) {
              throw new Error(`${key}: a worker exited early`);
            }
            if (Date.now() > deadline) {
              throw new Error(
                `${key}: only ${total}/${N} completed before timeout`,
              );
            }
            await sleep(5);
          }
          tEnd = Math.max(...ws.map((w) => w.last));
        } finally {
          await Promise.all(ws.map((w) => w.stop()));
        }
        total = ws.reduce((s, w) => s + w.count, 0);
        const counts = await withProducer({ events: false }, (p) => p.counts());
        const span = tEnd - tGo;
        detail[key] = {
          span_ms: r3(span),
          first_completion_after_go_ms: r3(
            Math.min(...ws.map((w) => w.first)) - tGo,
          ),
          completions_per_process: ws.map((w) => w.count),
          counts,
        };
        if (total !== N || counts.completed !== N) {
          throw new Error(
            `${key}: ${total} completions seen, ${counts.completed} completed in Redis, expected ${N}`,
          );
        }
        result[`${key}_jobs_s`] = r1(N / (span / 1000));
      }],
    ),
    ["latency", async () => {
      const M = LATENCY_RATE * LATENCY_SECONDS;
      const [w] = await spawnWorkers(1, LATENCY_WORKER_C);
      try {
        w.go();
        await withProducer({ events: true }, async (p) => {
          const issued = new Float64Array(M).fill(NaN);
          const received = new Float64Array(M).fill(NaN);
          let got = 0, dup = 0, unknown = 0;
          let allDone;
          const done = new Promise((res) => (allDone = res));
          p.onCompleted((i) => {
            const t = now();
            if (!(i >= 0 && i < M) || Number.isNaN(issued[i])) {
              unknown++;
              return;
            }
            if (!Number.isNaN(received[i])) {
              dup++;
              return;
            }
            received[i] = t;
            if (++got === M) allDone();
          });
          await sleep(SETTLE_MS);
          const pending = [];
          let addErrors = 0;
          const lag = new Float64Array(M);
          const t0 = now() + 5;
          for (let i = 0; i < M; i++) {
            const target = t0 + (i * 1000) / LATENCY_RATE;
            // setTimeout only (a busy-wait would delay the completion events);
            // Node timers can fire up to ~1 ms early, hence the re-check
            for (let wait = target - now(); wait > 0; wait = target - now()) {
              await sleep(Math.max(1, Math.ceil(wait)));
            }
            const t = now();
            issued[i] = t;
            lag[i] = t - target;
            pending.push(
              p.add({ i }).catch(() => {
                addErrors++;
              }),
            );
          }
          const tIssued = now();
          await Promise.all(pending);
          await Promise.race([done, sleep(60_000)]);
          const lat = [];
          for (let i = 0; i < M; i++) {
            if (!Number.isNaN(received[i])) lat.push(received[i] - issued[i]);
          }
          lat.sort((a, b) => a - b);
          const lags = Array.from(lag).sort((a, b) => a - b);
          detail.latency = {
            jobs: M,
            rate_jobs_s: LATENCY_RATE,
            worker_concurrency: LATENCY_WORKER_C,
            received: got,
            duplicates: dup,
            unknown_events: unknown,
            add_errors: addErrors,
            issue_span_ms: r3(tIssued - t0),
            schedule_lag_p50_ms: r3(nearestRank(lags, 50)),
            schedule_lag_max_ms: r3(lags[lags.length - 1]),
            min_ms: r3(lat[0]),
            p90_ms: r3(nearestRank(lat, 90)),
            p999_ms: r3(nearestRank(lat, 99.9)),
            max_ms: r3(lat[lat.length - 1]),
            mean_ms: r3(lat.reduce((s, x) => s + x, 0) / lat.length),
          };
          if (got !== M) {
            throw new Error(
              `latency: only ${got}/${M} completion events received`,
            );
          }
          result.latency_p50_ms = r3(nearestRank(lat, 50));
          result.latency_p99_ms = r3(nearestRank(lat, 99));
        });
      } finally {
        await w.stop();
      }
    }],
    ["idle", async () => {
      const [w] = await spawnWorkers(1, IDLE_WORKER_C);
      try {
        w.go();
        await sleep(SETTLE_MS);
        const before = commandStats(await control.info("commandstats"));
        await sleep(IDLE_SECONDS * 1000);
        const after = commandStats(await control.info("commandstats"));
        const delta = {};
        let total = 0;
        for (const [cmd, calls] of Object.entries(after)) {
          // our own first INFO is counted in `after`; subtract it
          const d = calls - (before[cmd] ?? 0) - (cmd === "info" ? 1 : 0);
          if (d > 0) {
            delta[cmd] = d;
            total += d;
          }
        }
        detail.idle = {
          seconds: IDLE_SECONDS,
          worker_concurrency: IDLE_WORKER_C,
          settle_ms: SETTLE_MS,
          commands: total,
          by_command: delta,
          note:
            "INFO commandstats counts commands run inside Lua scripts as well as the EVALSHA itself",
        };
        result.idle_commands_s = r3(total / IDLE_SECONDS);
      } finally {
        await w.stop();
      }
    }],
  ];

  const only = process.env.SCENARIOS
    ? new Set(process.env.SCENARIOS.split(","))
    : null;
  try {
    for (const [name, fn] of scenarios) {
      if (only && !only.has(name)) continue;
      await control.flushdb();
      log(`${adapter.lib}: ${name} (N=${N})`);
      try {
        await fn();
      } catch (e) {
        log(`${adapter.lib}: ${name} FAILED: ${e?.stack ?? e}`);
        detail.errors[name] = String(e?.message ?? e);
      }
    }
    await control.flushdb();
  } finally {
    control.disconnect();
    if (redis) await redis.stop();
  }
  if (Object.keys(detail.errors).length === 0) delete detail.errors;
  process.stdout.write(JSON.stringify(result) + "\n");
}

async function withBatches(n, fn) {
  for (let i = 0; i < n; i += BULK) {
    const batch = [];
    for (let k = i; k < Math.min(n, i + BULK); k++) batch.push({ i: k });
    await fn(batch);
  }
}

/** Entry point of a harness script. */
export async function main(adapter, script) {
  if (process.argv[2] === "worker") {
    await workerMain(adapter, Number(process.argv[3]));
  } else {
    await driverMain(adapter, script);
    // libraries sometimes leave timers behind; the result is already printed
    setTimeout(() => process.exit(0), 200).unref();
  }
}

/**
 * True when the module at `url` (its `import.meta.url`) is the script node
 * or Deno was started with, so that a harness runs `main` only then and
 * other drivers (bench/peers/per_task.mjs) can import its adapter.
 */
export function isEntry(url) {
  const script = process.argv[1];
  if (!script) return false;
  try {
    return realpathSync(script) === realpathSync(fileURLToPath(url));
  } catch {
    return false;
  }
}

export function redisOptions() {
  return {
    host: process.env.REDIS_HOST ?? "127.0.0.1",
    port: Number(process.env.REDIS_PORT ?? 6379),
  };
}
