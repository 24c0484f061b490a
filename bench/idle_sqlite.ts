/**
 * Idle cost of the embedded store: a server (`cli.ts --workers 2`, the
 * repository's config) on a new store file with nothing queued. Samples the
 * CPU time of each worker process (utime + stime of /proc/<pid>/stat) and
 * the sizes of the store files (db, -wal, -shm) over SECONDS, then prints
 * CPU % of one core per process and the sizes at start, end and their peak.
 * Last, queues LATENCY_TASKS tasks one at a time and reports how long each
 * waited to start on the idle workers (timeStarted - timeQueued).
 *
 *   deno task bench:idle                 # SECONDS=600 WORKERS=2
 *   SECONDS=120 deno task bench:idle
 *
 * Linux only (/proc).
 * @module
 */
import { PulsarQueue } from "../mod.ts";

const SECONDS = Number(Deno.env.get("SECONDS") ?? 600);
const WORKERS = Number(Deno.env.get("WORKERS") ?? 2);
const LATENCY_TASKS = Number(Deno.env.get("LATENCY_TASKS") ?? 20);
/** Seconds between two progress lines. */
const REPORT_EVERY = Number(Deno.env.get("REPORT_EVERY") ?? 60);
/** Seconds left to the workers to load before the measure starts. */
const WARM_UP = 5;

const root = new URL("..", import.meta.url).pathname;
const cli = new URL("../cli.ts", import.meta.url).pathname;
const dir = await Deno.makeTempDir({ prefix: "pq_idle_" });
const db = `${dir}/pq.sqlite`;
const dataStore = `sqlite:${db}`;
const ticksPerSecond = clockTicks();

/** utime + stime of a process, in seconds; undefined once it is gone. */
function cpuSeconds(pid: number): number | undefined {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    // The command name may hold spaces: fields count from after its ')'.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / ticksPerSecond;
  } catch {
    return undefined;
  }
}

/** The pids of the processes whose parent is `ppid`. */
function childrenOf(ppid: number): number[] {
  const pids: number[] = [];
  for (const entry of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    try {
      const stat = Deno.readTextFileSync(`/proc/${entry.name}/stat`);
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (Number(fields[1]) === ppid) pids.push(Number(entry.name));
    } catch {
      // Gone between the listing and the read.
    }
  }
  return pids.sort((a, b) => a - b);
}

function clockTicks(): number {
  try {
    const out = new Deno.Command("getconf", { args: ["CLK_TCK"] }).outputSync();
    const ticks = Number(new TextDecoder().decode(out.stdout).trim());
    if (ticks > 0) return ticks;
  } catch {
    // No getconf: Linux's value everywhere that matters.
  }
  return 100;
}

/** Bytes of the store files (0 when absent). */
function sizes(): { db: number; wal: number; shm: number } {
  const size = (path: string) => {
    try {
      return Deno.statSync(path).size;
    } catch {
      return 0;
    }
  };
  return { db: size(db), wal: size(`${db}-wal`), shm: size(`${db}-shm`) };
}

const sleep = (ms: number) => new Promise((ok) => setTimeout(ok, ms));
const pct = (cpu: number, wall: number) =>
  Number((100 * cpu / wall).toFixed(3));

const server = new Deno.Command(Deno.execPath(), {
  args: [
    "run",
    "-A",
    cli,
    "--workers",
    String(WORKERS),
    "--data-store",
    dataStore,
    "--log-level",
    "warning",
  ],
  cwd: root,
  stdin: "null",
}).spawn();

try {
  let workers: number[] = [];
  for (let i = 0; i < 600 && workers.length < WORKERS; i++) {
    await sleep(100);
    workers = childrenOf(server.pid);
  }
  if (workers.length < WORKERS) {
    throw new Error(`Only ${workers.length} of ${WORKERS} workers started`);
  }
  await sleep(WARM_UP * 1000);
  const pids = [server.pid, ...workers];
  const cpuStart = pids.map((pid) => cpuSeconds(pid) ?? NaN);
  const sizesStart = sizes();
  const peak = { ...sizesStart };
  const t0 = performance.now();
  console.error(
    `Measuring ${SECONDS} s: arbiter ${server.pid}, workers ${
      workers.join(", ")
    }, store ${db}`,
  );
  let nextReport = REPORT_EVERY;
  for (;;) {
    const elapsed = (performance.now() - t0) / 1000;
    if (elapsed >= SECONDS) break;
    await sleep(Math.min(1000, (SECONDS - elapsed) * 1000));
    const now = sizes();
    peak.db = Math.max(peak.db, now.db);
    peak.wal = Math.max(peak.wal, now.wal);
    peak.shm = Math.max(peak.shm, now.shm);
    const at = (performance.now() - t0) / 1000;
    if (at >= nextReport) {
      nextReport += REPORT_EVERY;
      const cpu = workers.map((pid, i) =>
        pct((cpuSeconds(pid) ?? NaN) - cpuStart[i + 1], at)
      );
      console.error(
        `${Math.round(at)} s: worker CPU % ${
          cpu.join(", ")
        }; db ${now.db} B, wal ${now.wal} B`,
      );
    }
  }
  const wall = (performance.now() - t0) / 1000;
  const cpuEnd = pids.map((pid) => cpuSeconds(pid) ?? NaN);
  const sizesEnd = sizes();
  const latency = await queueLatency();
  console.log(JSON.stringify(
    {
      seconds: Number(wall.toFixed(1)),
      workers: workers.map((pid, i) => ({
        pid,
        cpu_seconds: Number((cpuEnd[i + 1] - cpuStart[i + 1]).toFixed(2)),
        cpu_percent: pct(cpuEnd[i + 1] - cpuStart[i + 1], wall),
      })),
      arbiter: {
        pid: server.pid,
        cpu_seconds: Number((cpuEnd[0] - cpuStart[0]).toFixed(2)),
        cpu_percent: pct(cpuEnd[0] - cpuStart[0], wall),
      },
      bytes: { start: sizesStart, end: sizesEnd, peak },
      start_latency_ms: latency,
    },
    null,
    2,
  ));
} finally {
  server.kill("SIGTERM");
  await server.status;
  await Deno.remove(dir, { recursive: true });
}

/**
 * Milliseconds from queued to started of tasks queued one at a time on the
 * idle workers, each after a pause longer than an idle wait.
 */
async function queueLatency(): Promise<
  { n: number; median: number; max: number } | undefined
> {
  if (LATENCY_TASKS <= 0) return undefined;
  const api = await new PulsarQueue({
    taskPaths: [`${root}examples/jobs/`],
    dataStore,
  }).api().start();
  try {
    const waits: number[] = [];
    for (let i = 0; i < LATENCY_TASKS; i++) {
      // Long enough for the workers to be back in their idle wait.
      await sleep(250);
      const task = await api.tasks.queue("addition", { a: i, b: 1 });
      if (task.timeStarted === null) continue;
      waits.push((task.timeStarted - task.timeQueued) * 1000);
    }
    waits.sort((a, b) => a - b);
    return {
      n: waits.length,
      median: Number(waits[Math.floor(waits.length / 2)].toFixed(1)),
      max: Number(waits[waits.length - 1].toFixed(1)),
    };
  } finally {
    await api.close();
  }
}
