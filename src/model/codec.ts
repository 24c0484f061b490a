/**
 * Message serializers: how records become bytes in a store.
 * @module
 */
import {
  decode as decodeMsgpack,
  encode as encodeMsgpack,
} from "@msgpack/msgpack";

/** A serializer name (the `messageSerializer` setting). */
export type CodecName = "json" | "msgpack";

/** Turns values into bytes and back. */
export interface Codec {
  /** The serializer name. */
  readonly name: CodecName;
  /** Encodes a value; throws a `TypeError` naming what cannot be encoded. */
  encode(value: unknown): Uint8Array;
  /** Decodes bytes; throws when they are not this codec's encoding. */
  decode(bytes: Uint8Array): unknown;
}

const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder("utf-8", { fatal: true });

const jsonCodec: Codec = {
  name: "json",
  encode(value) {
    return textEncoder.encode(JSON.stringify(value));
  },
  decode(bytes) {
    return JSON.parse(textDecoder.decode(bytes));
  },
};

const msgpackCodec: Codec = {
  name: "msgpack",
  encode(value) {
    // JSON round trip first drops `undefined` and calls toJSON(), so both
    // codecs carry exactly the same values.
    return encodeMsgpack(JSON.parse(JSON.stringify(value)));
  },
  decode(bytes) {
    return decodeMsgpack(bytes);
  },
};

/** Every codec by name: the type holds it to every {@linkcode CodecName}. */
const CODECS: Readonly<Record<CodecName, Codec>> = {
  json: jsonCodec,
  msgpack: msgpackCodec,
};

/** The names of the serializers, for the settings table. */
export const CODEC_NAMES: readonly CodecName[] = Object.freeze(
  Object.keys(CODECS) as CodecName[],
);

/** The codec of a serializer name. */
export function codecFor(name: CodecName): Codec {
  return CODECS[name];
}
