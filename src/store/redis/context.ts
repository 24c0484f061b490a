/**
 * What the role modules of the Redis store (`leases.ts`, `search.ts`, ...)
 * share: the server, the scripts, the key layout, the codec and the clock
 * of one store. Made once by `RedisStore.open`; read only.
 * @module
 */
import type { Codec } from "../../model/codec.ts";
import type { RedisKeys } from "./keys.ts";
import type { Scripts } from "./scripts.ts";
import type { Topology } from "./topology.ts";

/** The parts of a Redis store that its role modules use. */
export interface RedisContext {
  /** The store's URL, its password masked: for messages. */
  readonly url: string;
  /** The namespace of its keys and channels. */
  readonly namespace: string;
  /** The names of its keys and channels. */
  readonly keys: RedisKeys;
  /** The server, and how commands reach it. */
  readonly topology: Topology;
  /** Its Lua scripts, as typed calls. */
  readonly scripts: Scripts;
  /** How records and messages are encoded. */
  readonly codec: Codec;
  /** The store's clock, in seconds. */
  readonly now: () => number;
  /** Seconds a finished task's record is kept. */
  readonly resultTtl: number;
}
