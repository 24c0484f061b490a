/**
 * What the store needs to know of a Redis command from its arguments: the
 * key it is routed by on a Cluster, and whether it writes. Pure: names
 * only, no I/O.
 *
 * Invariants:
 * - A command not listed as keyless is routed by its first key (a script's
 *   first KEYS, a BLMPOP's or LMPOP's first key): list a new keyless
 *   command here, or a Cluster sends it by its first argument.
 * - A command not listed as a read is a write: with
 *   `durability=replicated` a replica is waited for after it (a read
 *   listed as a write only costs a WAIT; a write listed as a read loses
 *   the guarantee).
 * @module
 */
import type { RedisArgument } from "./resp.ts";

/** Commands whose first argument is no key (sent to any node). */
const KEYLESS = new Set([
  "PING",
  "INFO",
  "SCRIPT",
  "PUBLISH",
  "CLUSTER",
  "SCAN",
  "WAIT",
  "ROLE",
  "CLIENT",
  "TIME",
  "ECHO",
  "DBSIZE",
  "FLUSHDB",
]);

/** Commands that write nothing (and those of no key). */
const READS = new Set([
  ...KEYLESS,
  "GET",
  "MGET",
  "HGET",
  "HMGET",
  "HGETALL",
  "HLEN",
  "HEXISTS",
  "HSCAN",
  "LLEN",
  "LINDEX",
  "LRANGE",
  "ZCARD",
  "ZCOUNT",
  "ZRANGE",
  "ZRANGEBYSCORE",
  "ZSCORE",
  "ZRANK",
  "ZREVRANK",
  "ZSCAN",
  "SCARD",
  "SISMEMBER",
  "SMEMBERS",
  "SSCAN",
  "EXISTS",
  "TYPE",
  "TTL",
  "PTTL",
  "STRLEN",
]);

/** The key a command is routed by, or undefined for a command of none. */
export function routingKey(
  args: readonly RedisArgument[],
): string | undefined {
  const command = String(args[0]).toUpperCase();
  if (KEYLESS.has(command)) return undefined;
  // EVALSHA sha numkeys key..., BLMPOP timeout numkeys key..., and
  // LMPOP numkeys key...
  const at = command.startsWith("EVAL") || command === "BLMPOP"
    ? 3
    : command === "LMPOP"
    ? 2
    : 1;
  if (at > 1 && Number(args[at - 1]) === 0) return undefined;
  const key = args[at];
  if (key === undefined) return undefined;
  return typeof key === "string" ? key : new TextDecoder().decode(key);
}

/** True unless the command is known to write nothing. */
export function writes(args: readonly RedisArgument[]): boolean {
  return !READS.has(String(args[0]).toUpperCase());
}
