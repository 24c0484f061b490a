/**
 * Events over Redis pub/sub: a store channel (`task`, `control`, `queue`,
 * ...) is the Redis channel `<ns>:<name>`, listened to on a connection of
 * its own (made by the topology), one subscription a channel however many
 * listeners it has.
 *
 * Invariants:
 * - A message is `<event>\n<encoded data>`; `*<event>\n<list>` carries the
 *   data of many events of one name (as the scripts publish them).
 * - `started <JSON [time, worker, node]>` carries records as queued: each
 *   is delivered as `started`, STARTED by that worker at that time. Its
 *   worker publishes it once it has the tasks (so it reaches others after
 *   the worker began them), with the records' bytes as stored, not encoded
 *   again.
 * - A message that cannot be decoded (another serializer) is dropped; one
 *   listener's error does not stop delivery to the others.
 * @module
 */
import { Buffer } from "node:buffer";
import type { CodecName } from "../../model/codec.ts";
import { TaskStatus } from "../../model/status.ts";
import type { ChannelMessage, MessageListener } from "../store.ts";
import type { RedisContext } from "./context.ts";
import { parseStartInfo } from "./records.ts";

/** A task a worker took: when it started, its queue and its record. */
export interface StartedTask {
  time: number;
  queue: string;
  record: Uint8Array;
}

/** Publishing and listening to the store's channels. */
export class PubSub {
  readonly #ctx: RedisContext;
  readonly #listeners = new Map<string, Set<MessageListener>>();

  /** Pub/sub for the store of `ctx`. */
  constructor(ctx: RedisContext) {
    this.#ctx = ctx;
  }

  /** Publishes a message, its data encoded. */
  async publish(message: ChannelMessage): Promise<void> {
    await this.publishEvent(
      message.channel,
      message.event,
      this.#ctx.codec.encode(message.data),
    );
  }

  /**
   * Publishes an event whose data is encoded already; on a Cluster, from
   * the node of `queue` when given (see `announceStarted`).
   */
  async publishEvent(
    channel: string,
    event: string,
    payload: Uint8Array,
    queue?: string,
  ): Promise<void> {
    const args = [
      "PUBLISH",
      this.#ctx.keys.channel(channel),
      Buffer.concat([Buffer.from(event + "\n"), payload]),
    ];
    const { topology, keys } = this.#ctx;
    await (queue === undefined
      ? topology.send(args)
      : topology.sendFor(keys.queue(queue).ready, args));
  }

  /**
   * Publishes `started` for tasks a worker took, once it has them: their
   * records as stored, one message for the tasks of one start time, whose
   * event name carries it (`started <JSON [time, worker, node]>`). A
   * notice: not waited for.
   */
  announceStarted(
    started: readonly StartedTask[],
    who: { worker: string; node: string },
  ): void {
    // One message a start time and queue, published from the queue's node
    // (on a Cluster): the node whose scripts publish the task's other
    // events, so a subscriber hears them in order.
    const groups = Map.groupBy(
      started,
      ({ time, queue }) => `${time}\n${queue}`,
    );
    for (const tasks of groups.values()) {
      const { time, queue } = tasks[0];
      const records = tasks.map(({ record }) => record);
      const event = `started ${JSON.stringify([time, who.worker, who.node])}`;
      const [name, body] = records.length === 1
        ? [event, records[0]]
        : [`*${event}`, encodedList(this.#ctx.codec.name, records)];
      this.publishEvent("task", name, body, queue).catch(
        () => undefined, // A lost notice; the tasks run all the same.
      );
    }
  }

  /** Listens to a channel; resolves with how to stop. */
  async subscribe(
    channel: string,
    listener: MessageListener,
  ): Promise<() => Promise<void>> {
    const { topology } = this.#ctx;
    const name = this.#ctx.keys.channel(channel);
    const deliver = (message: Buffer) => this.#deliver(channel, message);
    let listeners = this.#listeners.get(channel);
    if (listeners) {
      // A message published before this call may still be in flight on the
      // subscriber connection; a round trip on it delivers that message to
      // the listeners already there before this one joins.
      await topology.listen(name, deliver, true);
    } else {
      this.#listeners.set(channel, listeners = new Set());
      try {
        await topology.listen(name, deliver, false);
      } catch (error) {
        // Not listening: the next subscriber subscribes.
        if (listeners.size === 0) this.#listeners.delete(channel);
        throw error;
      }
    }
    listeners.add(listener);
    return async () => {
      const current = this.#listeners.get(channel);
      current?.delete(listener);
      if (current?.size === 0) {
        this.#listeners.delete(channel);
        await topology.unlisten(name);
      }
    };
  }

  #deliver(channel: string, message: Buffer): void {
    const newline = message.indexOf(10);
    if (newline < 0) return;
    let event = message.subarray(0, newline).toString();
    let data: unknown;
    try {
      data = this.#ctx.codec.decode(message.subarray(newline + 1));
    } catch {
      return; // Published by a process with another serializer.
    }
    // `*event`: one message carrying the data of many events.
    const batch = event.startsWith("*") && Array.isArray(data);
    if (batch) event = event.slice(1);
    const items = batch ? data as unknown[] : [data];
    // `started <start info>`: records as queued, started as it says.
    if (event.startsWith("started ")) {
      const started = parseStartInfo(event.slice("started ".length));
      if (!started) return;
      event = "started";
      for (let i = 0; i < items.length; i++) {
        const item = items[i];
        if (typeof item === "object" && item !== null) {
          items[i] = { ...item, status: TaskStatus.STARTED, ...started };
        }
      }
    }
    for (const item of items) {
      for (const listener of [...this.#listeners.get(channel) ?? []]) {
        try {
          listener({ channel, event, data: item });
        } catch {
          // One listener's error must not stop delivery to the others.
        }
      }
    }
  }
}

/**
 * A list of encoded records, as the codec encodes a list of them: a JSON
 * array, or a msgpack array (its header, then the records), made from their
 * bytes without decoding them (as `flush` in `_helpers.lua` does).
 */
function encodedList(
  codec: CodecName,
  records: readonly Uint8Array[],
): Uint8Array {
  const n = records.length;
  let head: number[];
  if (codec === "json") head = [0x5b]; // [
  else if (n < 16) head = [0x90 + n];
  else if (n < 65536) head = [0xdc, n >> 8, n & 0xff];
  else head = [0xdd, n >>> 24, (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff];
  const commas = codec === "json" ? n : 0; // n - 1 commas and the ]
  let size = head.length + commas;
  for (const record of records) size += record.length;
  const out = new Uint8Array(size);
  out.set(head, 0);
  let at = head.length;
  records.forEach((record, i) => {
    if (codec === "json" && i > 0) out[at++] = 0x2c; // ,
    out.set(record, at);
    at += record.length;
  });
  if (codec === "json") out[at++] = 0x5d; // ]
  return out;
}
