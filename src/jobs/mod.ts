/**
 * Built-in jobs, the Deno counterparts of pulsar-queue's `execute.python`
 * and `execute.python.script`: run TypeScript code or a script file in a
 * Deno subprocess with no permissions unless given, and return its stdout.
 * Add `"@pq/queue/jobs"` (or this module's path) to `taskPaths`.
 *
 * @example
 * ```ts
 * import { PulsarQueue } from "@pq/queue";
 * const app = new PulsarQueue({ taskPaths: ["@pq/queue/jobs"] });
 * await using api = await app.api().start();
 * const task = await api.tasks.execute("execute.deno", {
 *   code: 'console.log("Hello World!")',
 * });
 * console.log(task.result); // "Hello World!\n"
 * ```
 * @module
 */
export { executeDeno, executeDenoScript } from "./execute_deno.ts";
