/**
 * OpenTelemetry traces of tasks, across processes. What is traced:
 *
 * - `pq queue <job>` (kind PRODUCER): `tasks.queue`, `tasks.queueMany` (one
 *   span for the call) and a job's `ctx.queue`, from the call until the task
 *   is in the store. The task record carries the span's W3C `traceparent`;
 *   a retry keeps it, so every attempt joins the producer's trace.
 * - `pq run <job>` (kind CONSUMER): a worker's run of one attempt, a child
 *   of the record's `traceparent`; the job runs in its context, so what the
 *   job does (`ctx.http`, which Deno's `fetch` traces) is its child.
 * - `pq job <job>` (kind INTERNAL): the job in a Web Worker (THREAD_IO) or a
 *   subprocess (CPUBOUND), a child of the run span, whose `traceparent`
 *   crosses in the run request.
 *
 * Invariants: spans go through `@opentelemetry/api` only, so Deno's built-in
 * exporter (`OTEL_DENO=true`) sends them and nothing is set up here. Without
 * it the API is a no-op: no span records, nothing is stored (a record gets
 * a `traceparent` only from a valid, sampled span) and a job runs as it
 * would untraced. The `traceparent` is written and read here (version 00),
 * so no global propagator is needed.
 * @module
 */
import {
  type Attributes,
  type Context,
  context,
  INVALID_SPAN_CONTEXT,
  isSpanContextValid,
  ROOT_CONTEXT,
  type Span,
  type SpanContext,
  SpanKind,
  SpanStatusCode,
  trace,
  TraceFlags,
} from "@opentelemetry/api";
import type { TaskRecord } from "../model/task.ts";

/** The tracer of every pq span (instrumentation scope `pq`). */
const tracer = trace.getTracer("pq");

/** `version-traceId-spanId-flags`, lower-case hex (W3C Trace Context). */
const TRACEPARENT =
  /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

/**
 * The `traceparent` of a span context: `00-<traceId>-<spanId>-<flags>`, or
 * undefined unless the context is valid (not the all-zero one of the no-op
 * API) and sampled.
 */
export function formatTraceparent(
  spanContext: SpanContext,
): string | undefined {
  if (!isSpanContextValid(spanContext)) return undefined;
  if ((spanContext.traceFlags & TraceFlags.SAMPLED) === 0) return undefined;
  const flags = spanContext.traceFlags.toString(16).padStart(2, "0");
  return `00-${spanContext.traceId}-${spanContext.spanId}-${flags}`;
}

/**
 * The remote span context a `traceparent` names, or undefined when it is
 * not one (malformed, version `ff`, or all-zero ids).
 */
export function parseTraceparent(
  traceparent: string | null | undefined,
): SpanContext | undefined {
  const match = traceparent ? TRACEPARENT.exec(traceparent) : null;
  if (!match || match[1] === "ff") return undefined;
  const spanContext: SpanContext = {
    traceId: match[2],
    spanId: match[3],
    traceFlags: parseInt(match[4], 16),
    isRemote: true,
  };
  return isSpanContextValid(spanContext) ? spanContext : undefined;
}

/** The `traceparent` of the active span, or undefined (see `formatTraceparent`). */
export function activeTraceparent(): string | undefined {
  const span = trace.getActiveSpan();
  return span && formatTraceparent(span.spanContext());
}

/**
 * A span of pq, started by `startQueueSpan`, `startRunSpan` or
 * `startJobSpan`. Ending it twice ends it once. Untraced, they all return
 * one shared span that does nothing.
 *
 * @example
 * ```ts
 * import { startQueueSpan } from "./tracing.ts";
 * const span = startQueueSpan("addition", { "pq.task.id": "0".repeat(32) });
 * span.traceparent; // undefined unless OTEL_DENO=true
 * span.end();
 * ```
 */
export class TaskSpan {
  readonly #span: Span;
  readonly #context: Context;
  #ended = false;
  /** The span's `traceparent`, or undefined when it does not record. */
  readonly traceparent: string | undefined;

  /** Wraps a started span and the context it was started in. */
  constructor(span: Span, parent: Context) {
    this.#span = span;
    this.#context = trace.setSpan(parent, span);
    this.traceparent = formatTraceparent(span.spanContext());
  }

  /** Adds attributes (only while it records). */
  set(attributes: Attributes): void {
    if (this.traceparent) this.#span.setAttributes(attributes);
  }

  /** Calls `fn` with this span active, so what it starts is a child. */
  run<T>(fn: () => T): T {
    return this.traceparent ? context.with(this.#context, fn) : fn();
  }

  /**
   * Ends the span; with `error` (an Error or a message) its status is
   * ERROR with that message.
   */
  end(error?: unknown): void {
    if (this.#ended) return;
    this.#ended = true;
    if (error !== undefined && this.traceparent) {
      this.#span.setStatus({
        code: SpanStatusCode.ERROR,
        message: error instanceof Error ? error.message : String(error),
      });
    }
    this.#span.end();
  }
}

/**
 * True when spans are made: a tracer provider is registered (Deno's, with
 * `OTEL_DENO=true`, or one the program set up). Without one, pq makes no
 * span at all, not even a no-op one: a run then costs what it did untraced.
 */
function tracing(): boolean {
  const provider = trace.getTracerProvider() as {
    getDelegateTracer?: (name: string) => unknown;
  };
  // Not the API's proxy: a provider set some other way, trusted to trace.
  return typeof provider.getDelegateTracer !== "function" ||
    provider.getDelegateTracer("pq") !== undefined;
}

function start(
  name: string,
  kind: SpanKind,
  attributes: Attributes,
  parent: Context,
): TaskSpan {
  return new TaskSpan(
    tracer.startSpan(name, { kind, attributes }, parent),
    parent,
  );
}

/**
 * Starts `pq queue <job>` (PRODUCER), a child of the active span (a job's
 * run when a job queues). Its `traceparent` goes on the new task records.
 */
export function startQueueSpan(
  jobName: string,
  attributes: Attributes = {},
): TaskSpan {
  if (!tracing()) return NOT_TRACED;
  return start(
    `pq queue ${jobName}`,
    SpanKind.PRODUCER,
    { "pq.job": jobName, ...attributes },
    context.active(),
  );
}

/**
 * Starts `pq run <job>` (CONSUMER) for one attempt of `record`: a child of
 * its `traceparent`, or of the active span when it has none.
 */
export function startRunSpan(record: TaskRecord): TaskSpan {
  if (!tracing()) return NOT_TRACED;
  const remote = parseTraceparent(record.traceparent);
  const parent = remote
    ? trace.setSpanContext(context.active(), remote)
    : context.active();
  return start(`pq run ${record.name}`, SpanKind.CONSUMER, {
    "pq.task.id": record.id,
    "pq.job": record.name,
    "pq.queue": record.queue ?? "",
    "pq.task.attempt": record.retry,
  }, parent);
}

/**
 * Starts `pq job <job>` (INTERNAL) in a Web Worker or subprocess: a child
 * of the worker's run span, whose `traceparent` came with the request.
 * Without one (an untraced worker) it is a no-op span.
 */
export function startJobSpan(
  record: TaskRecord,
  traceparent: string | undefined,
): TaskSpan {
  const remote = parseTraceparent(traceparent);
  if (!remote || !tracing()) return NOT_TRACED;
  return start(`pq job ${record.name}`, SpanKind.INTERNAL, {
    "pq.task.id": record.id,
    "pq.job": record.name,
    "pq.task.attempt": record.retry,
  }, trace.setSpanContext(context.active(), remote));
}

/** A span that does not record: the API's own invalid one. */
const NOT_TRACED = new TaskSpan(
  trace.wrapSpanContext(INVALID_SPAN_CONTEXT),
  ROOT_CONTEXT,
);
