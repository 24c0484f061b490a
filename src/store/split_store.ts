/**
 * A store whose queues live on one server (`messageBroker`) and whose other
 * channels and locks live on another (`dataStore`), as pulsar-queue's two
 * settings. Task events are published by the queues' own transitions, so
 * channel `task` is the broker's, as are `control` (revokes) and `queue`
 * (pauses); every other channel is the data store's. Everything else the
 * broker keeps: tasks and their leases, workflow state beside the tasks it
 * refers to, beats beside the leases a dead worker's beat ends, paused
 * queues as a state of the queues. Schedules go with the locks, on the
 * data store: the scheduler's state.
 * @module
 */
import type { ChannelMessage } from "../model/events.ts";
import type { MessageListener, PubSub, Store } from "./store.ts";
import { storeWith } from "./store_with.ts";

/** Channels whose messages the broker's own transitions publish. */
const BROKER_CHANNELS: ReadonlySet<string> = new Set([
  "task",
  "control",
  "queue",
]);

/** Queues on `broker`, other channels and locks on `data`; closes both. */
export function splitStore(broker: Store, data: Store): Store {
  const channelStore = (channel: string): PubSub =>
    BROKER_CHANNELS.has(channel) ? broker : data;
  const close = async () => {
    await Promise.all([broker.close(), data.close()]);
  };
  return storeWith(broker, {
    url: `${broker.url} (queues), ${data.url} (data)`,
    publish: (message: ChannelMessage) =>
      channelStore(message.channel).publish(message),
    subscribe: (channel: string, listener: MessageListener) =>
      channelStore(channel).subscribe(channel, listener),
    acquireLock: (name: string, owner: string, seconds: number) =>
      data.acquireLock(name, owner, seconds),
    releaseLock: (name: string, owner: string) => data.releaseLock(name, owner),
    // Schedules are the scheduler's, beside its locks.
    upsertSchedule: (definition) => data.upsertSchedule(definition),
    schedules: () => data.schedules(),
    schedule: (id) => data.schedule(id),
    removeSchedule: (id) => data.removeSchedule(id),
    setSchedulePaused: (id, paused) => data.setSchedulePaused(id, paused),
    takeScheduleRun: (id, due, expected) =>
      data.takeScheduleRun(id, due, expected),
    close,
    [Symbol.asyncDispose]: close,
  });
}
