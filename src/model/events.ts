/**
 * The events of a pq cluster: a message on a channel, and what each known
 * channel carries, so that `onEvents` callbacks get typed data.
 *
 * Channels: `task` (a task's `queued`, `started` and `done` events, the data
 * a {@linkcode Task}), `consumer` (each worker's `status`, a
 * {@linkcode WorkerStatus}, every beat), `control` (`revoke`, a task id),
 * `queue` (`paused` and `resumed`, the queue's name); any other channel
 * carries what its publisher sent.
 * @module
 */
import type { WorkerStatus } from "./worker_status.ts";
import type { Task } from "./task.ts";

/** A message on a channel, as a store carries it. */
export interface ChannelMessage {
  /** The channel, e.g. `task`. */
  channel: string;
  /** The event, e.g. `done`. */
  event: string;
  /** The payload (for channel `task`: a task record). */
  data: unknown;
}

/** The events of channel `task`, in the order a task has them. */
export type TaskEventName = "queued" | "started" | "done";

/**
 * The data of the events of each known channel, as callbacks get it (checked
 * on arrival: a malformed message is dropped with a warning).
 *
 * @example
 * ```ts
 * import type { EventMap } from "@pq/queue";
 * const show = (task: EventMap["task"]) => console.log(task.statusString);
 * ```
 */
export interface EventMap {
  /** Every event of a task (and a task's id as event name): the task. */
  task: Task;
  /** A worker's status, published every beat: `status`. */
  consumer: WorkerStatus;
  /** `revoke`: the id of the task to stop. */
  control: string;
  /** `paused`, `resumed`: the name of the queue paused or resumed. */
  queue: string;
}

/** The data of events on `channel`: typed for the known channels. */
export type EventData<C extends string> = C extends keyof EventMap ? EventMap[C]
  : unknown;

/**
 * Called with the channel, the matched event name and the data (a `Task` on
 * channel `task`).
 *
 * @example
 * ```ts
 * import type { EventCallback } from "@pq/queue";
 * const onDone: EventCallback<"task"> = (_channel, event, task) =>
 *   console.log(event, task.id, task.statusString);
 * ```
 */
export type EventCallback<C extends string = string> = (
  channel: C,
  event: string,
  data: EventData<C>,
) => void;
