/**
 * The version of pq that `pq --version` prints.
 *
 * Invariant: it is the `version` of deno.json (tests/cli_help_test.ts checks
 * it); it is a constant rather than a read of deno.json so that a compiled
 * binary and a copy fetched from a registry print it without reading files.
 * @module
 */

/** pq's version, as in deno.json. */
export const VERSION = "0.1.0";
