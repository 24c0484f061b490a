/**
 * OpenTelemetry traces across processes: a producer process and a pq
 * server, both run with `OTEL_DENO=true`, export their spans over OTLP/HTTP
 * (JSON) to a receiver in this test; one trace links the producer's queue
 * span to the worker's run span, to a CPUBOUND subprocess's and a Web
 * Worker's job span, and to the fetch of `ctx.http`. On the embedded store
 * and on Redis. This test process itself runs without OTEL_DENO: there,
 * nothing is traced and no record carries a `traceparent`.
 */
import assert from "node:assert/strict";
import { TaskStatus } from "../mod.ts";
import { formatTraceparent, parseTraceparent } from "../src/runtime/tracing.ts";
import { startRedis } from "./_redis.ts";
import {
  eventually,
  producerFor,
  serverArgs,
  startServer,
  tempDir,
} from "./_server.ts";

const TRACE_JOBS = new URL("./fixtures/trace_jobs.ts", import.meta.url)
  .pathname;
const PRODUCE = new URL("./fixtures/trace_produce.ts", import.meta.url)
  .pathname;

/** OTLP span kinds (`SPAN_KIND_*`) and the error status code. */
const INTERNAL = 1, CLIENT = 3, PRODUCER = 4, CONSUMER = 5;
const STATUS_ERROR = 2;

/** A span as the receiver got it, attributes flattened. */
interface ExportedSpan {
  scope: string;
  name: string;
  kind: number;
  traceId: string;
  spanId: string;
  parentSpanId: string;
  attributes: Record<string, unknown>;
  status: { code?: number; message?: string };
}

/** An OTLP attribute value: `{ stringValue }`, `{ intValue }`... */
function attributeValue(value: Record<string, unknown>): unknown {
  if ("intValue" in value) return Number(value.intValue);
  return Object.values(value)[0];
}

/**
 * An OTLP/HTTP receiver on 127.0.0.1 and a free port: keeps the spans of
 * every `POST /v1/traces` (JSON), and accepts logs and metrics unread.
 */
function otlpReceiver() {
  const spans: ExportedSpan[] = [];
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    async (request) => {
      const body = await request.text();
      if (new URL(request.url).pathname === "/v1/traces") {
        const { resourceSpans = [] } = JSON.parse(body);
        for (const { scopeSpans = [] } of resourceSpans) {
          for (const { scope, spans: scoped = [] } of scopeSpans) {
            for (const span of scoped) {
              spans.push({
                scope: scope?.name ?? "",
                name: span.name,
                kind: span.kind,
                traceId: span.traceId,
                spanId: span.spanId,
                parentSpanId: span.parentSpanId ?? "",
                attributes: Object.fromEntries(
                  (span.attributes ?? []).map((
                    a: { key: string; value: Record<string, unknown> },
                  ) => [a.key, attributeValue(a.value)]),
                ),
                status: span.status ?? {},
              });
            }
          }
        }
      }
      return Response.json({});
    },
  );
  return {
    endpoint: `http://127.0.0.1:${server.addr.port}`,
    spans,
    [Symbol.asyncDispose]: () => server.shutdown(),
  };
}

/** What the producer fixture prints of each task. */
interface Sent {
  id: string;
  queue: string | null;
  status: string;
  result: unknown;
  retry: number;
  traceparent: string | null;
}

/** The spans the suite waits for: name → how many. */
const EXPECTED: Record<string, number> = {
  "pq queue trace.async": 5, // tasks.queue, queueMany, 3 by trace.parent*
  "pq queue trace.thread": 1,
  "pq queue trace.process": 1,
  "pq queue trace.http": 1,
  "pq queue trace.fail": 1,
  "pq queue trace.parent": 1,
  "pq queue trace.parent.thread": 1,
  "pq queue trace.parent.process": 1,
  "pq run trace.async": 6,
  "pq run trace.thread": 1,
  "pq run trace.process": 1,
  "pq run trace.http": 1,
  "pq run trace.fail": 2,
  "pq run trace.parent": 1,
  "pq run trace.parent.thread": 1,
  "pq run trace.parent.process": 1,
  "pq job trace.thread": 1,
  "pq job trace.process": 1,
  "pq job trace.parent.thread": 1,
  "pq job trace.parent.process": 1,
};

/** Runs a traced server and producer on `dataStore`, then checks the spans. */
async function traceSuite(
  t: Deno.TestContext,
  dataStore: string,
): Promise<void> {
  await using receiver = otlpReceiver();
  await using http = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    () => new Response("traced body"),
  );
  const url = `http://127.0.0.1:${http.addr.port}/traced`;
  const otel = {
    OTEL_DENO: "true",
    OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
    OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
    OTEL_DENO_CONSOLE: "ignore",
  };
  await using server = startServer(
    serverArgs({
      workers: 1,
      dataStore,
      taskPaths: TRACE_JOBS,
      taskPoolTimeout: 0.05,
      logLevel: "error",
    }),
    { env: { ...otel, OTEL_SERVICE_NAME: "pq-server" } },
  );
  const produced = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", PRODUCE, dataStore, url],
    env: { ...otel, OTEL_SERVICE_NAME: "pq-producer" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(120_000),
  }).output();
  const decoder = new TextDecoder();
  assert.ok(produced.success, decoder.decode(produced.stderr));
  const sent = JSON.parse(decoder.decode(produced.stdout)) as
    & Record<string, Sent>
    & { many: Sent[] };
  // A clean exit flushes the server's batched spans.
  assert.equal((await server.stop()).code, 0, server.stderr());

  const spans = receiver.spans;
  const count = (name: string) => spans.filter((s) => s.name === name).length;
  await eventually(
    () =>
      Object.entries(EXPECTED).every(([name, n]) => count(name) >= n) &&
      spans.some((s) => s.attributes["url.full"] === url),
    30,
    "every span to be exported",
  );
  const one = (what: string, pick: (s: ExportedSpan) => boolean) => {
    const found = spans.filter(pick);
    assert.equal(found.length, 1, `one ${what}: got ${found.length}`);
    return found[0];
  };
  const queueSpan = (job: string, id: string) =>
    one(
      `queue span of ${id}`,
      (s) => s.name === `pq queue ${job}` && s.attributes["pq.task.id"] === id,
    );
  const runSpan = (job: string, id: string) =>
    one(
      `run span of ${id}`,
      (s) => s.name === `pq run ${job}` && s.attributes["pq.task.id"] === id,
    );
  const traceparentOf = (s: ExportedSpan) => `00-${s.traceId}-${s.spanId}-01`;
  const assertChild = (child: ExportedSpan, parent: ExportedSpan) => {
    assert.equal(child.traceId, parent.traceId, `${child.name}: its trace`);
    assert.equal(child.parentSpanId, parent.spanId, `${child.name}: parent`);
  };

  await t.step(
    "an ASYNC_IO task: the producer's queue span is the parent of the worker's run span, and the record carries its traceparent",
    () => {
      const task = sent.async;
      assert.equal(task.status, "SUCCESS");
      const queued = queueSpan("trace.async", task.id);
      assert.equal(queued.kind, PRODUCER);
      assert.equal(queued.scope, "pq");
      assert.deepEqual(queued.attributes, {
        "pq.job": "trace.async",
        "pq.task.id": task.id,
        "pq.queue": task.queue,
      });
      assert.equal(task.traceparent, traceparentOf(queued));
      const run = runSpan("trace.async", task.id);
      assert.equal(run.kind, CONSUMER);
      assertChild(run, queued);
      assert.deepEqual(run.attributes, {
        "pq.task.id": task.id,
        "pq.job": "trace.async",
        "pq.queue": task.queue,
        "pq.task.attempt": 1,
        "pq.task.status": "SUCCESS",
      });
      assert.notEqual(run.status.code, STATUS_ERROR);
    },
  );

  await t.step(
    "a CPUBOUND task: its subprocess's job span is a child of the run span, in the same trace",
    () => {
      const task = sent.process;
      assert.equal(task.result, 144);
      const queued = queueSpan("trace.process", task.id);
      const run = runSpan("trace.process", task.id);
      assertChild(run, queued);
      const inChild = one("job span", (s) => s.name === "pq job trace.process");
      assert.equal(inChild.kind, INTERNAL);
      assertChild(inChild, run);
      assert.equal(inChild.attributes["pq.mode"], "CPUBOUND");
      assert.equal(inChild.attributes["pq.task.id"], task.id);
    },
  );

  await t.step(
    "a THREAD_IO task: its Web Worker's job span is a child of the run span",
    () => {
      const task = sent.thread;
      assert.equal(task.result, 6);
      const run = runSpan("trace.thread", task.id);
      assertChild(run, queueSpan("trace.thread", task.id));
      const inThread = one("job span", (s) => s.name === "pq job trace.thread");
      assertChild(inThread, run);
      assert.equal(inThread.attributes["pq.mode"], "THREAD_IO");
    },
  );

  await t.step(
    "ctx.http: Deno's fetch span (CLIENT) is a child of the run span",
    () => {
      const task = sent.http;
      assert.equal(task.result, "traced body");
      const run = runSpan("trace.http", task.id);
      assertChild(run, queueSpan("trace.http", task.id));
      const fetched = one("fetch", (s) => s.attributes["url.full"] === url);
      assert.equal(fetched.kind, CLIENT);
      assert.equal(fetched.scope, "deno");
      assert.equal(fetched.attributes["http.request.method"], "GET");
      assertChild(fetched, run);
    },
  );

  await t.step(
    "a retried task: every attempt is a child of the one queue span, each failed run has an error status",
    () => {
      const task = sent.fail;
      assert.equal(task.status, "FAILURE");
      assert.equal(task.retry, 2);
      const queued = queueSpan("trace.fail", task.id);
      // The final attempt's record keeps the first one's traceparent.
      assert.equal(task.traceparent, traceparentOf(queued));
      const runs = spans.filter((s) => s.name === "pq run trace.fail")
        .sort((a, b) =>
          Number(a.attributes["pq.task.attempt"]) -
          Number(b.attributes["pq.task.attempt"])
        );
      assert.deepEqual(
        runs.map((
          s,
        ) => [s.attributes["pq.task.attempt"], s.attributes["pq.task.status"]]),
        [[1, "RETRY"], [2, "FAILURE"]],
      );
      assert.equal(runs[0].attributes["pq.task.id"], task.id);
      for (const run of runs) {
        assertChild(run, queued);
        assert.equal(run.status.code, STATUS_ERROR);
        assert.equal(run.status.message, "trace.fail failed on purpose");
      }
    },
  );

  await t.step(
    "queueMany: one queue span, the parent of every task's run",
    () => {
      const queued = one(
        "queueMany span",
        (s) =>
          s.name === "pq queue trace.async" && "pq.task.count" in s.attributes,
      );
      assert.equal(queued.attributes["pq.task.count"], 2);
      for (const task of sent.many) {
        assert.equal(task.status, "SUCCESS");
        assert.equal(task.traceparent, traceparentOf(queued));
        assertChild(runSpan("trace.async", task.id), queued);
      }
    },
  );

  await t.step(
    "ctx.queue, in every mode: the new task's queue span is a child of the queuing job's run span",
    () => {
      for (
        const [label, job] of [
          ["parent", "trace.parent"],
          ["parentThread", "trace.parent.thread"],
          ["parentProcess", "trace.parent.process"],
        ]
      ) {
        const task = sent[label];
        assert.equal(task.status, "SUCCESS", `${job}: ${task.result}`);
        const childId = (task.result as { id: string }).id;
        const run = runSpan(job, task.id);
        assertChild(run, queueSpan(job, task.id));
        const childQueued = queueSpan("trace.async", childId);
        assertChild(childQueued, run);
        assertChild(runSpan("trace.async", childId), childQueued);
      }
    },
  );
}

Deno.test("traces across processes on the embedded store", async (t) => {
  await using dir = await tempDir();
  await traceSuite(t, `sqlite:${dir.path}/pq.sqlite`);
});

Deno.test("traces across processes on Redis", async (t) => {
  await using redis = await startRedis();
  await traceSuite(t, redis.url());
});

Deno.test("without OTEL_DENO nothing is traced: records carry no traceparent", async () => {
  await using api = await producerFor({
    dataStore: "sqlite::memory:",
    taskPaths: [TRACE_JOBS],
  });
  const executed = await api.tasks.execute("trace.async", { a: 1, b: 2 });
  assert.equal(executed.status, TaskStatus.SUCCESS);
  assert.equal(executed.traceparent, null);
  const queued = await api.tasks.queue("trace.async", {}, { callback: false });
  const [many] = await api.tasks.queueMany("trace.async", [{ a: 1 }]);
  for (const id of [queued.id, many.id]) {
    const stored = await api.store.get(id);
    assert.ok(stored, `task ${id} is stored`);
    assert.equal(stored.traceparent ?? null, null, "no traceparent stored");
  }
});

Deno.test("a traceparent is written only for a valid, sampled span context, and read back", () => {
  const traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
  const spanId = "00f067aa0ba902b7";
  const written = formatTraceparent({ traceId, spanId, traceFlags: 1 });
  assert.equal(written, `00-${traceId}-${spanId}-01`);
  assert.deepEqual(parseTraceparent(written), {
    traceId,
    spanId,
    traceFlags: 1,
    isRemote: true,
  });
  // The no-op API's context, and one not sampled, are never stored.
  assert.equal(
    formatTraceparent({
      traceId: "0".repeat(32),
      spanId: "0".repeat(16),
      traceFlags: 1,
    }),
    undefined,
  );
  assert.equal(
    formatTraceparent({ traceId, spanId, traceFlags: 0 }),
    undefined,
  );
  for (
    const bad of [
      undefined,
      null,
      "",
      `ff-${traceId}-${spanId}-01`,
      `00-${"0".repeat(32)}-${spanId}-01`,
      `00-${traceId}-${"0".repeat(16)}-01`,
      `00-${traceId.toUpperCase()}-${spanId}-01`,
      `00-${traceId}-${spanId}`,
    ]
  ) {
    assert.equal(parseTraceparent(bad), undefined, `not one: ${bad}`);
  }
});
