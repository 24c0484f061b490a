/**
 * Checked readers of Redis replies: a reply is read into named fields by a
 * decoder of its own (in `scripts.ts` for the scripts, next to the command
 * for the others), made of these readers. A reply of another shape than
 * the decoder expects is a {@linkcode MalformedReplyError} naming what was
 * read and what was wrong, not a crash at some index later.
 *
 * Invariants:
 * - A reader names what it reads only when it fails (`what` and `field`
 *   make the message then): the readers run for each task of a claim, and
 *   building text for each field would cost more than reading it.
 * - They accept what the server sends for the value: a bulk string as
 *   `Buffer` or text, a number as an integer reply or as text (the scripts
 *   answer fractional times as text).
 * @module
 */
import { Buffer } from "node:buffer";
import type { RedisReply } from "./resp.ts";

/** A reply of another shape than the command or script answers. */
export class MalformedReplyError extends Error {
  override name = "MalformedReplyError";
}

/** Throws the error of a reply: `<what>: <field> <why>`. */
export function malformed(
  what: string,
  field: string | number,
  why: string,
): never {
  const name = typeof field === "number" ? `reply[${field}]` : field;
  throw new MalformedReplyError(`Bad reply of ${what}: ${name} ${why}`);
}

/** Its type, for messages. */
function typeOf(reply: RedisReply | undefined): string {
  if (reply === undefined) return "missing";
  if (reply === null) return "nil";
  if (Buffer.isBuffer(reply)) return "a bulk string";
  if (Array.isArray(reply)) return "an array";
  return typeof reply === "number" ? "an integer" : "a simple string";
}

/** An array reply. */
export function list(
  reply: RedisReply | undefined,
  what: string,
  field: string | number = "the reply",
): RedisReply[] {
  if (!Array.isArray(reply)) {
    return malformed(what, field, `is ${typeOf(reply)}, not an array`);
  }
  return reply;
}

/** A string reply (bulk or simple, or an integer) as text. */
export function text(
  reply: RedisReply | undefined,
  what: string,
  field: string | number = "the reply",
): string {
  if (typeof reply === "string") return reply;
  if (Buffer.isBuffer(reply) || typeof reply === "number") {
    return String(reply);
  }
  return malformed(what, field, `is ${typeOf(reply)}, not a string`);
}

/** A bulk string reply, as its bytes. */
export function bytes(
  reply: RedisReply | undefined,
  what: string,
  field: string | number = "the reply",
): Buffer {
  if (Buffer.isBuffer(reply)) return reply;
  return malformed(what, field, `is ${typeOf(reply)}, not a bulk string`);
}

/** An array reply of bulk strings. */
export function bulkStrings(
  reply: RedisReply | undefined,
  what: string,
  field = "reply",
): Buffer[] {
  return list(reply, what, field).map((item, i) =>
    bytes(item, what, `${field}[${i}]`)
  );
}

/** A bulk string reply, or nil (a key or field that does not exist). */
export function bytesOrNil(
  reply: RedisReply | undefined,
  what: string,
  field: string | number = "the reply",
): Buffer | null {
  return reply === null ? null : bytes(reply, what, field);
}

/** A number: an integer reply, or the text of a number. */
export function number(
  reply: RedisReply | undefined,
  what: string,
  field: string | number = "the reply",
): number {
  if (typeof reply === "number") return reply;
  const value = Number(text(reply, what, field));
  if (Number.isNaN(value)) {
    return malformed(what, field, `is '${String(reply)}', not a number`);
  }
  return value;
}

/** An integer reply of 1 or 0, as true or false. */
export function flag(
  reply: RedisReply | undefined,
  what: string,
  field: string | number = "the reply",
): boolean {
  if (reply === 1 || reply === 0) return reply === 1;
  return malformed(what, field, `is ${typeOf(reply)} '${reply}', not 1 or 0`);
}

/**
 * The members and scores of a `ZRANGE ... WITHSCORES` reply, in order; the
 * scores as the server wrote them (a bound of the next read is one).
 */
export function scored(
  reply: RedisReply | undefined,
  what: string,
): Array<{ member: string; score: string }> {
  // RESP3 answers [member, score] pairs, RESP2 a flat list.
  const flat = list(reply, what).flat();
  if (flat.length % 2 !== 0) {
    return malformed(what, "the reply", "has an odd number of entries");
  }
  const out: Array<{ member: string; score: string }> = [];
  for (let i = 0; i < flat.length; i += 2) {
    out.push({
      member: text(flat[i], what, i),
      score: text(flat[i + 1], what, i + 1),
    });
  }
  return out;
}

/** A string reply that is one of `values`. */
export function oneOf<T extends string>(
  reply: RedisReply | undefined,
  values: readonly T[],
  what: string,
  field: string | number = "the reply",
): T {
  const value = text(reply, what, field);
  if (!(values as readonly string[]).includes(value)) {
    return malformed(what, field, `is '${value}', not ${values.join(", ")}`);
  }
  return value as T;
}

/** A reply whose length is not `expected`. */
export function lengthOf(
  reply: readonly RedisReply[],
  expected: number,
  what: string,
): void {
  if (reply.length !== expected) {
    malformed(
      what,
      "the reply",
      `has ${reply.length} entries, not ${expected}`,
    );
  }
}
