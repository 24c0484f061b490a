/**
 * Running a task in the producer's own process (`api.tasks.execute`, or a
 * task queued with `queue: null`): it is never stored; its `started`,
 * `progress` and `done` events are published as a worker's would be, and a
 * failed publish is logged, never failing the task (as pulsar-queue).
 * @module
 */
import { getLogger } from "@logtape/logtape";
import type { Settings } from "../model/settings_types.ts";
import { TaskStatus } from "../model/status.ts";
import { Task, type TaskRecord } from "../model/task.ts";
import type { JobBackend } from "../runtime/job.ts";
import type { JobRegistry } from "../runtime/registry.ts";
import { runTask } from "../run/run_task.ts";
import type { ThreadPool } from "../run/thread_pool.ts";
import type { PubSub } from "../store/store.ts";

const logger = getLogger(["pq", "producer"]);

/** What running a task here takes from its producer. */
export interface LocalRunHost {
  /** The producer API the job sees. */
  backend: JobBackend;
  /** Where the task's events are published. */
  store: Pick<PubSub, "publish">;
  /** The jobs of this process. */
  registry: JobRegistry;
  settings: Settings;
  /** The Web Workers for THREAD_IO jobs. */
  threads: () => ThreadPool;
  /** This host's name (the task's `node`). */
  node: string;
}

/** Runs `record` here, and resolves with the task done. */
export async function runHere(
  host: LocalRunHost,
  record: TaskRecord,
): Promise<Task> {
  const now = () => Date.now() / 1000;
  const started: TaskRecord = {
    ...record,
    queue: null,
    status: TaskStatus.STARTED,
    timeStarted: now(),
    node: host.node,
    worker: null,
  };
  await publishTask(host, "started", started);
  const outcome = await runTask(started, host.registry.get(record.name), {
    backend: host.backend,
    now,
    threads: host.threads(),
    settings: host.settings,
    // Not stored (nor is the task until it is done): announced only.
    progress: (progress) =>
      publishTask(host, "progress", { ...started, progress }),
  });
  await publishTask(host, "done", outcome.task);
  return new Task(outcome.task);
}

async function publishTask(
  host: LocalRunHost,
  event: string,
  record: TaskRecord,
): Promise<void> {
  try {
    await host.store.publish({ channel: "task", event, data: record });
  } catch (error) {
    logger.error("Cannot publish {event} of task {id}: {error}", {
      event,
      id: record.id,
      error,
    });
  }
}
