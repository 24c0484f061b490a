/**
 * Where a message a producer receives goes: worker statuses and other
 * channels to the event callbacks, task events to the callbacks and to the
 * futures waiting for the task. Malformed messages are logged and dropped:
 * a bad message from the store never reaches a callback nor breaks a wait.
 * @module
 */
import { getLogger } from "@logtape/logtape";
import type { ChannelMessage } from "../model/events.ts";
import { parseTaskRecord, Task } from "../model/task.ts";
import { parseWorkerStatus } from "../model/worker_status.ts";
import type { EventHub } from "./event_hub.ts";
import type { TaskWaiters } from "./task_waiters.ts";

const logger = getLogger(["pq", "producer"]);

/** Hands `message` to the callbacks of `hub` and the futures of `waiters`. */
export function routeMessage(
  message: ChannelMessage,
  hub: EventHub,
  waiters: TaskWaiters,
): void {
  if (message.channel === "consumer" && message.event === "status") {
    const status = parseWorkerStatus(message.data);
    if (status) hub.dispatch(message, status);
    else logger.warn("Ignored a malformed worker status event");
    return;
  }
  if (
    (message.channel === "control" || message.channel === "queue") &&
    typeof message.data !== "string"
  ) {
    logger.warn("Ignored a malformed {channel} event: {event}", {
      channel: message.channel,
      event: message.event,
    });
    return;
  }
  if (message.channel !== "task") {
    hub.dispatch(message, message.data);
    return;
  }
  // Most task events are of no interest here: skip them before the
  // (costly) validation.
  const id = (message.data as { id?: unknown } | null)?.id;
  const awaited = typeof id === "string" && waiters.has(id);
  if (!awaited && !hub.has("task")) return;
  const parsed = parseTaskRecord(message.data);
  if (!parsed.ok) {
    logger.warn("Ignored a malformed task event: {reason}", {
      reason: parsed.reason,
    });
    return;
  }
  const task = new Task(parsed.record);
  if (message.event === "done") waiters.settle(task);
  hub.dispatch(message, task, task.id);
}
