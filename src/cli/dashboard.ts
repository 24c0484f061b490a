/**
 * `pq dashboard [--port 8787] [--host 127.0.0.1] [--token <secret>]`: the
 * web dashboard of the cluster, with `/metrics`, until SIGINT or SIGTERM.
 *
 * Invariants: it listens on 127.0.0.1 unless `--host` says otherwise, and
 * anywhere else only with a token (`--token`, else `PQ_DASHBOARD_TOKEN`);
 * the token is never printed.
 * @module
 */
import { DASHBOARD_PORT, startDashboard } from "../web/dashboard.ts";
import { checkArgs, type Command, UsageError } from "./_command.ts";

/** The variable the token is read from when `--token` is not given. */
export const DASHBOARD_TOKEN_ENV = "PQ_DASHBOARD_TOKEN";

/** Reads `--port`: a whole number from 0 to 65535. */
function portOption(value: unknown): number {
  if (value === undefined) return DASHBOARD_PORT;
  const text = String(value).trim();
  const port = /^\d+$/.test(text) ? Number(text) : NaN;
  if (!(port >= 0 && port <= 65535)) {
    throw new UsageError(
      `Option '--port' must be a port number from 0 to 65535: got '${text}'`,
    );
  }
  return port;
}

/** `pq dashboard`. */
export const dashboardCommand: Command = {
  name: "dashboard",
  usage: "",
  help: "Serve the web dashboard and /metrics until stopped (Ctrl-C).",
  details:
    "It listens on 127.0.0.1 unless --host says otherwise; any other address needs a token (--token or PQ_DASHBOARD_TOKEN), which the browser sends once as ?token=<token>.",
  options: {
    port: {
      type: "string",
      metavar: "<port>",
      help:
        `The port, from 0 (any free one) to 65535; default ${DASHBOARD_PORT}.`,
    },
    host: {
      type: "string",
      metavar: "<address>",
      help: "The address to listen on; default 127.0.0.1.",
    },
    token: {
      type: "string",
      metavar: "<secret>",
      help:
        `The token a browser must give; default: the ${DASHBOARD_TOKEN_ENV} variable.`,
    },
  },
  examples: [
    "pq dashboard",
    "pq dashboard --port 9000 --data-store redis://127.0.0.1:6379/0",
    "PQ_DASHBOARD_TOKEN=s3cret pq dashboard --host 0.0.0.0",
  ],
  async run({ api, args, values, io }) {
    checkArgs(this, args, 0, 0);
    const port = portOption(values.port);
    const hostname = values.host === undefined
      ? "127.0.0.1"
      : String(values.host).trim();
    if (hostname === "") {
      throw new UsageError("Option '--host' needs an address: got ''");
    }
    const token = values.token !== undefined
      ? String(values.token)
      : Deno.env.get(DASHBOARD_TOKEN_ENV) || undefined;
    if (token !== undefined && token.trim() === "") {
      throw new UsageError("Option '--token' must not be empty");
    }
    let dashboard;
    try {
      dashboard = await startDashboard({ api, hostname, port, token });
    } catch (error) {
      if (error instanceof TypeError || error instanceof RangeError) {
        throw new UsageError(error.message, { cause: error });
      }
      throw error;
    }
    const stop = () => dashboard.close();
    const signals = ["SIGINT", "SIGTERM"] as const;
    for (const signal of signals) Deno.addSignalListener(signal, stop);
    io.out(
      `pq dashboard on ${dashboard.url} (store ${await api.queues.storeUrl()})${
        token ? "; open it once with ?token=<your token>" : ""
      }`,
    );
    try {
      await dashboard.finished;
    } finally {
      for (const signal of signals) Deno.removeSignalListener(signal, stop);
      await dashboard.close();
    }
    return 0;
  },
};
