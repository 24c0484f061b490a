/**
 * The settings of the server this repository runs with
 * `deno run -A cli.ts`: pq reads `./pq.config.ts` when `--config` is not
 * given. Flags and `PQ_*` variables override these.
 */
export default {
  taskPaths: ["./examples/jobs/"],
};
