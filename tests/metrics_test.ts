/**
 * Prometheus metrics: a server's `--metrics-port` (without and with worker
 * processes), the dashboard's `/metrics`, checked with the real tools:
 * `promtool check metrics` on the text, and a real Prometheus that scrapes
 * a running server and answers a query with the right count.
 */
import assert from "node:assert/strict";
import { startServerMetrics } from "../src/web/server_metrics.ts";
import { freePort, startDashboardProcess } from "./_browser.ts";
import {
  eventually,
  EXAMPLE_JOBS,
  producerFor,
  requireProgram,
  serverArgs,
  startServer,
  tempDir,
} from "./_server.ts";

/** Runs `promtool check metrics` on the text; its exit code and output. */
async function promtoolCheck(text: string): Promise<[number, string]> {
  const child = new Deno.Command("promtool", {
    args: ["check", "metrics"],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(text));
  await writer.close();
  const output = await child.output();
  const decode = (b: Uint8Array) => new TextDecoder().decode(b);
  return [output.code, decode(output.stdout) + decode(output.stderr)];
}

/** The value of one series of an exposition text (undefined when absent). */
function sample(text: string, series: string): number | undefined {
  for (const line of text.split("\n")) {
    if (line.startsWith(series + " ")) {
      return Number(line.slice(series.length + 1));
    }
  }
  return undefined;
}

async function scrape(url: string, token?: string): Promise<string> {
  const response = await fetch(url, {
    headers: token ? { authorization: `Bearer ${token}` } : {},
  });
  assert.deepEqual(response.status, 200, url);
  assert.match(response.headers.get("content-type") ?? "", /^text\/plain/);
  return await response.text();
}

Deno.test({
  name:
    "a server without worker processes serves its own counts on --metrics-port; promtool accepts them",
  async fn() {
    await requireProgram("promtool", "prometheus");
    await using dir = await tempDir();
    const dataStore = `sqlite:${dir.path}/pq.sqlite`;
    const port = freePort();
    await using server = startServer(serverArgs({
      workers: 0,
      dataStore,
      taskPaths: EXAMPLE_JOBS,
      metricsPort: port,
    }));
    await server.ready();
    await using api = await producerFor({ dataStore });
    for (let i = 0; i < 5; i++) await api.tasks.queue("addition", { a: i });
    const failed = await api.tasks.queue("subtraction", { a: "x" });
    assert.deepEqual(failed.statusString, "FAILURE");
    await api.tasks.queue("addition", {}, {
      callback: false,
      delay: 600,
      queue: "pulsarqueue",
    });
    const url = `http://127.0.0.1:${port}/metrics`;
    let text = "";
    // Counted, and its worker live (read from its beats, which a loaded
    // machine can make late).
    await eventually(
      async () => {
        text = await scrape(url);
        return sample(
              text,
              'pq_tasks_total{name="subtraction",queue="pulsarqueue",status="FAILURE"}',
            ) === 1 && sample(text, "pq_workers_live") === 1;
      },
      10,
      "the failure counted and the worker live",
    );
    assert.deepEqual(
      sample(
        text,
        'pq_tasks_total{name="addition",queue="pulsarqueue",status="SUCCESS"}',
      ),
      5,
    );
    assert.deepEqual(
      sample(text, 'pq_task_run_seconds_count{name="addition"}'),
      5,
    );
    assert.deepEqual(
      sample(text, 'pq_task_run_seconds_bucket{le="+Inf",name="addition"}'),
      5,
    );
    assert.deepEqual(sample(text, 'pq_queue_delayed{queue="pulsarqueue"}'), 1);
    assert.deepEqual(sample(text, 'pq_queue_ready{queue="pulsarqueue"}'), 0);
    assert.deepEqual(sample(text, "pq_workers_live"), 1);
    // Running tasks are read from the workers' beats: a worker idle again
    // says so within a quarter of a second and a beat.
    await eventually(
      async () => {
        text = await scrape(url);
        return sample(text, "pq_tasks_running") === 0;
      },
      5,
      "no task running",
    );
    assert.deepEqual(sample(text, "pq_tasks_running"), 0);
    const [code, output] = await promtoolCheck(text);
    assert.deepEqual(code, 0, output);
    // Anything but GET /metrics is refused.
    const other = await fetch(`http://127.0.0.1:${port}/`);
    assert.deepEqual(other.status, 404);
    await other.body?.cancel();
  },
});

Deno.test({
  name:
    "a server with worker processes sums their counts on one port, and a real Prometheus scrapes it",
  async fn() {
    await requireProgram("prometheus");
    await using dir = await tempDir();
    const dataStore = `sqlite:${dir.path}/pq.sqlite`;
    const port = freePort();
    await using server = startServer(serverArgs({
      workers: 2,
      concurrentTasks: 2,
      dataStore,
      taskPaths: EXAMPLE_JOBS,
      metricsPort: port,
    }));
    await server.ready();
    await using api = await producerFor({ dataStore });
    const N = 24;
    // Slow enough that both worker processes take some.
    const tasks = await api.tasks.queueMany(
      "asynchronous",
      Array.from({ length: N }, () => ({ lag: 0.05 })),
    );
    const done = await Promise.all(tasks.map((task) => task.doneCallback!));
    assert(done.every((task) => task.statusString === "SUCCESS"));
    const workers = new Set(done.map((task) => task.worker));
    const url = `http://127.0.0.1:${port}/metrics`;
    const series =
      'pq_tasks_total{name="asynchronous",queue="pulsarqueue",status="SUCCESS"}';
    await eventually(
      async () => sample(await scrape(url), series) === N,
      15,
      `${N} tasks counted on the arbiter's endpoint`,
    );
    const text = await scrape(url);
    assert.deepEqual(sample(text, "pq_workers_live"), 2, text);
    assert.deepEqual(
      sample(text, 'pq_task_run_seconds_count{name="asynchronous"}'),
      N,
    );

    const promPort = freePort();
    const config = `${dir.path}/prometheus.yml`;
    await Deno.writeTextFile(
      config,
      [
        "global:",
        "  scrape_interval: 1s",
        "scrape_configs:",
        "  - job_name: pq",
        "    static_configs:",
        `      - targets: ["127.0.0.1:${port}"]`,
        "",
      ].join("\n"),
    );
    const prometheus = new Deno.Command("prometheus", {
      args: [
        `--config.file=${config}`,
        `--web.listen-address=127.0.0.1:${promPort}`,
        `--storage.tsdb.path=${dir.path}/tsdb`,
        "--log.level=warn",
      ],
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    const stderr = new Response(prometheus.stderr).text();
    try {
      const query = encodeURIComponent(
        'sum(pq_tasks_total{name="asynchronous",status="SUCCESS"})',
      );
      let answer: unknown;
      await eventually(
        async () => {
          try {
            const response = await fetch(
              `http://127.0.0.1:${promPort}/api/v1/query?query=${query}`,
            );
            answer = await response.json();
            const result = (answer as {
              data?: { result?: Array<{ value: [number, string] }> };
            }).data?.result;
            return result?.length === 1 && Number(result[0].value[1]) === N;
          } catch {
            return false;
          }
        },
        60,
        `Prometheus to answer ${N}`,
      );
      // The job label is Prometheus's own: the job's name is `name`.
      const labels = await (await fetch(
        `http://127.0.0.1:${promPort}/api/v1/query?query=pq_tasks_total`,
      )).json();
      const metric = labels.data.result[0].metric;
      assert.deepEqual(metric.job, "pq");
      assert.deepEqual(metric.name, "asynchronous");
      assert(workers.size >= 1);
    } finally {
      prometheus.kill("SIGTERM");
      await prometheus.status;
      await stderr;
    }
  },
});

Deno.test({
  name:
    "the dashboard's /metrics counts the cluster's finished tasks; promtool accepts it",
  async fn() {
    await requireProgram("promtool", "prometheus");
    await using dir = await tempDir();
    const dataStore = `sqlite:${dir.path}/pq.sqlite`;
    await using server = startServer(serverArgs({
      workers: 0,
      dataStore,
      taskPaths: EXAMPLE_JOBS,
    }));
    await server.ready();
    const token = "metrics-" + crypto.randomUUID();
    await using dashboard = await startDashboardProcess(
      [...serverArgs({ dataStore, taskPaths: EXAMPLE_JOBS }), "--token", token],
      token,
    );
    await using api = await producerFor({ dataStore });
    for (let i = 0; i < 3; i++) await api.tasks.queue("addition", { a: i });
    const url = `${dashboard.base}/metrics`;
    const series =
      'pq_tasks_total{name="addition",queue="pulsarqueue",status="SUCCESS"}';
    await eventually(
      async () => sample(await scrape(url, token), series) === 3,
      15,
      "3 tasks counted by the dashboard",
    );
    const text = await scrape(url, token);
    assert.deepEqual(sample(text, "pq_workers_live"), 1);
    // A configured queue is reported when empty, not left out.
    assert.deepEqual(sample(text, 'pq_queue_ready{queue="pulsarqueue"}'), 0);
    assert.deepEqual(
      sample(text, 'pq_task_run_seconds_count{name="addition"}'),
      3,
    );
    const [code, output] = await promtoolCheck(text);
    assert.deepEqual(code, 0, output);
    const refused = await fetch(url);
    assert.deepEqual(refused.status, 401);
    await refused.body?.cancel();
  },
});

Deno.test("the metrics endpoint takes only well-formed pushes with its secret", async () => {
  await using dir = await tempDir();
  await using api = await producerFor({
    dataStore: `sqlite:${dir.path}/pq.sqlite`,
  });
  await using metrics = startServerMetrics({
    store: api.store,
    port: 0,
    queues: ["q"],
  });
  const push = (url: string, body: unknown) =>
    fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
  const good = {
    worker: "worker-1",
    pid: 1,
    finished: [{ name: "a", queue: "q", status: 1, seconds: 0.5 }],
  };
  const wrongSecret = await push(
    metrics.collectorUrl.replace(/[0-9a-f]{32}$/, "0".repeat(32)),
    good,
  );
  assert.deepEqual(wrongSecret.status, 404);
  await wrongSecret.body?.cancel();
  const bad = await push(metrics.collectorUrl, {
    ...good,
    finished: [{ name: "a", queue: "q", status: 9, seconds: -1 }],
  });
  assert.deepEqual(bad.status, 400);
  assert.match(await bad.text(), /Malformed push/);
  const ok = await push(metrics.collectorUrl, good);
  assert.deepEqual(ok.status, 204);
  const text = await scrape(metrics.url);
  assert.deepEqual(
    sample(text, 'pq_tasks_total{name="a",queue="q",status="SUCCESS"}'),
    1,
  );
  assert.deepEqual(sample(text, 'pq_task_run_seconds_count{name="a"}'), 1);
});
