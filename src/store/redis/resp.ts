/**
 * RESP2, the wire format of Redis: commands written as arrays of bulk
 * strings, replies parsed from the bytes read so far. Pure: bytes in,
 * bytes or values out, no I/O (the connection is `connection.ts`).
 *
 * Invariants:
 * - Bulk strings are `Buffer`s (views of the bytes read, never copied),
 *   simple strings `string`s, integers `number`s, nil `null`, arrays
 *   arrays.
 * - An error reply is told apart from a simple string: `next()` gives its
 *   text as `error` (only for the top-level reply; an error inside an
 *   array stays its text).
 * @module
 */
import { Buffer } from "node:buffer";

/** A reply of the server. */
export type RedisReply = Buffer | string | number | null | RedisReply[];

/** An argument of a command. */
export type RedisArgument = string | Uint8Array;

const encoder = new TextEncoder();

/**
 * A command as RESP: an array of bulk strings, written into one buffer.
 * ASCII text (keys, numbers, ids: nearly every argument) is copied a char
 * at a time, as a `TextEncoder` call per argument cost more than the rest.
 */
export function encodeCommand(args: readonly RedisArgument[]): Uint8Array {
  // Room enough: a header of at most 1 + 20 + 2 bytes per argument, and at
  // most 3 bytes per UTF-16 unit of text.
  let size = 16;
  for (const arg of args) {
    size += 25 + (typeof arg === "string" ? arg.length * 3 : arg.length);
  }
  const out = new Uint8Array(size);
  let at = writeHeader(out, 0, 42, args.length); // *
  for (const arg of args) {
    if (typeof arg !== "string") {
      at = writeHeader(out, at, 36, arg.length); // $
      out.set(arg, at);
      at += arg.length;
    } else {
      // The header's length is known only once the text is written: write
      // the text after room for the longest header, then move it back.
      const room = 23;
      let end = at + room;
      let ascii = true;
      for (let i = 0; i < arg.length; i++) {
        const code = arg.charCodeAt(i);
        if (code >= 128) {
          ascii = false;
          break;
        }
        out[end++] = code;
      }
      if (!ascii) {
        end = at + room +
          encoder.encodeInto(arg, out.subarray(at + room)).written;
      }
      const length = end - at - room;
      const start = writeHeader(out, at, 36, length);
      out.copyWithin(start, at + room, end);
      at = start + length;
    }
    out[at++] = 13;
    out[at++] = 10;
  }
  return out.subarray(0, at);
}

/** Writes `<mark><n>\r\n` at `at`; returns where it ends. */
function writeHeader(
  out: Uint8Array,
  at: number,
  mark: number,
  n: number,
): number {
  out[at++] = mark;
  const digits = String(n);
  for (let i = 0; i < digits.length; i++) out[at++] = digits.charCodeAt(i);
  out[at++] = 13;
  out[at++] = 10;
  return at;
}

/** The parts joined in one buffer. */
export function concat(parts: readonly Uint8Array[]): Uint8Array {
  let size = 0;
  for (const part of parts) size += part.length;
  const out = new Uint8Array(size);
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

/** A reply that is not complete yet. */
const INCOMPLETE = Symbol("incomplete");

/**
 * Parses RESP2 replies from the bytes read so far. `next()` gives one
 * complete reply (or the text of an error reply), or undefined until more
 * bytes come.
 */
export class ReplyReader {
  #buffer: Uint8Array = new Uint8Array(0);
  #at = 0;
  /** The error of the top-level reply being parsed, if it is one. */
  #error?: string;

  /** Adds bytes read from the socket. */
  push(bytes: Uint8Array): void {
    const left = this.#buffer.length - this.#at;
    if (left === 0) {
      this.#buffer = bytes.slice();
    } else {
      const joined = new Uint8Array(left + bytes.length);
      joined.set(this.#buffer.subarray(this.#at));
      joined.set(bytes, left);
      this.#buffer = joined;
    }
    this.#at = 0;
  }

  /** The next complete reply, or undefined. */
  next(): { reply: RedisReply; error?: string } | undefined {
    if (this.#at >= this.#buffer.length) return undefined;
    const start = this.#at;
    this.#error = undefined;
    const reply = this.#value(true);
    if (reply === INCOMPLETE) {
      this.#at = start;
      return undefined;
    }
    return { reply, error: this.#error };
  }

  /** The end of the line that starts at `from`, or -1. */
  #lineEnd(from: number): number {
    const buffer = this.#buffer;
    for (let i = from; i < buffer.length - 1; i++) {
      if (buffer[i] === 13 && buffer[i + 1] === 10) return i;
    }
    return -1;
  }

  #value(top: boolean): RedisReply | typeof INCOMPLETE {
    const buffer = this.#buffer;
    if (this.#at >= buffer.length) return INCOMPLETE;
    const type = buffer[this.#at];
    const end = this.#lineEnd(this.#at + 1);
    if (end < 0) return INCOMPLETE;
    const line = Buffer.from(
      buffer.buffer,
      buffer.byteOffset + this.#at + 1,
      end - this.#at - 1,
    )
      .toString("latin1");
    this.#at = end + 2;
    switch (type) {
      case 43: // + simple string
        return line;
      case 45: // - error
        if (top) this.#error = line;
        return line;
      case 58: // : integer
        return Number(line);
      case 36: { // $ bulk string
        const length = Number(line);
        if (length < 0) return null;
        if (this.#at + length + 2 > buffer.length) return INCOMPLETE;
        // A view, not a copy: pushed bytes are never written again.
        const value = Buffer.from(
          buffer.buffer,
          buffer.byteOffset + this.#at,
          length,
        );
        this.#at += length + 2;
        return value;
      }
      case 42: { // * array
        const length = Number(line);
        if (length < 0) return null;
        const items: RedisReply[] = [];
        for (let i = 0; i < length; i++) {
          const item = this.#value(false);
          if (item === INCOMPLETE) return INCOMPLETE;
          items.push(item);
        }
        return items;
      }
      default:
        throw new Error(
          `Cannot read a reply of type '${String.fromCharCode(type)}'`,
        );
    }
  }
}
