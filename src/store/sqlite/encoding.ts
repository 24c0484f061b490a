/**
 * The bytes of the embedded store's records and events: a stored record
 * read back (or why it cannot be), and the bytes of an event built from
 * the bytes of the records it carries, spliced without decoding them, so
 * that a record written in a transaction is encoded once, for its row and
 * its event alike. Both codecs allow the splicing: JSON text, and msgpack,
 * whose maps and arrays are a header followed by their items.
 * @module
 */
import type { Codec } from "../../model/codec.ts";
import { parseTaskRecord, type TaskRecord } from "../../model/task.ts";
import {
  parseWorkerStatus,
  type WorkerStatus,
} from "../../model/worker_status.ts";
import { errorMessage } from "./errors.ts";

/** A stored record, or why it cannot be read. */
export type Decoded =
  | { ok: true; record: TaskRecord }
  | { ok: false; reason: string };

/** The stored record of a task, or why it cannot be read. */
export function decodeTask(codec: Codec, payload: Uint8Array): Decoded {
  let value: unknown;
  try {
    value = codec.decode(payload);
  } catch (error) {
    return {
      ok: false,
      reason: `Cannot decode task record: ${errorMessage(error)}`,
    };
  }
  return parseTaskRecord(value);
}

/** A stored worker status, or undefined when it cannot be read. */
export function decodeStatus(
  codec: Codec,
  bytes: Uint8Array,
): WorkerStatus | undefined {
  try {
    return parseWorkerStatus(codec.decode(bytes));
  } catch {
    return undefined; // Malformed, or written with another serializer.
  }
}

const JSON_HEAD = new TextEncoder().encode('{"data":');
const JSON_TAIL = new TextEncoder().encode("}");
/** A msgpack map of one entry whose key is the string "data". */
const MSGPACK_HEAD = Uint8Array.of(0x81, 0xa4, 0x64, 0x61, 0x74, 0x61);

/**
 * The encoding of `{ data }` from the encoding of `data`: both codecs allow
 * it, and it saves encoding every record twice (row and event).
 */
export function wrapData(codec: Codec, bytes: Uint8Array): Uint8Array {
  const head = codec.name === "json" ? JSON_HEAD : MSGPACK_HEAD;
  const tail = codec.name === "json" ? JSON_TAIL : new Uint8Array(0);
  const out = new Uint8Array(head.length + bytes.length + tail.length);
  out.set(head);
  out.set(bytes, head.length);
  out.set(tail, head.length + bytes.length);
  return out;
}

/**
 * The encoding of an array from the encodings of its items (a JSON array,
 * or a msgpack array header and the items), without decoding them.
 */
export function encodedList(
  codec: Codec,
  items: readonly Uint8Array[],
): Uint8Array {
  const n = items.length;
  const json = codec.name === "json";
  const head = json
    ? Uint8Array.of(0x5b) // [
    : n < 16
    ? Uint8Array.of(0x90 + n)
    : n < 65536
    ? Uint8Array.of(0xdc, n >> 8, n & 0xff)
    : Uint8Array.of(
      0xdd,
      n >>> 24,
      (n >> 16) & 0xff,
      (n >> 8) & 0xff,
      n & 0xff,
    );
  let size = head.length + (json ? n : 0);
  for (const item of items) size += item.length;
  const out = new Uint8Array(size);
  out.set(head);
  let at = head.length;
  items.forEach((item, i) => {
    if (json && i > 0) out[at++] = 0x2c; // ,
    out.set(item, at);
    at += item.length;
  });
  if (json) out[at] = 0x5d; // ]
  return out;
}
