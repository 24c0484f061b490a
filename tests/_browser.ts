/**
 * Test helpers for the dashboard: Debian's chromium driven by
 * `playwright-core`, free ports, and `pq dashboard` in its own process.
 */
import { type Browser, chromium } from "playwright-core";
import { eventually, startServer } from "./_server.ts";

/** Debian's chromium (scripts/test.sh installs it). */
export const CHROMIUM = "/usr/bin/chromium";

/**
 * Fails with how to install chromium when it is not here: the dashboard's
 * browser tests need it (none is skipped without it).
 */
export async function requireChromium(): Promise<void> {
  const found = await Deno.stat(CHROMIUM).then((s) => s.isFile, () => false);
  if (found) return;
  throw new Error(
    `The dashboard's browser tests need chromium at ${CHROMIUM}, which is ` +
      "not there: install it (Debian: apt-get install chromium), or run the " +
      "suite with scripts/test.sh, which installs it",
  );
}

/** A free TCP port on 127.0.0.1. */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

/** A headless chromium, closed on dispose. */
export async function launchBrowser(): Promise<
  AsyncDisposable & { browser: Browser }
> {
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ["--no-sandbox"],
  });
  return {
    browser,
    async [Symbol.asyncDispose]() {
      await browser.close();
    },
  };
}

/** A running `pq dashboard`. */
export interface DashboardProcess extends AsyncDisposable {
  /** `http://127.0.0.1:<port>`. */
  base: string;
  /** Everything it wrote to stderr. */
  stderr(): string;
  /** Stops it (SIGTERM) and resolves with its exit status. */
  stop(): Promise<Deno.CommandStatus>;
}

/**
 * Starts `cli.ts dashboard --port <free> <args>` and resolves once it
 * answers (`token`: the token it was given, to ask with).
 */
export async function startDashboardProcess(
  args: string[],
  token?: string,
): Promise<DashboardProcess> {
  const port = freePort();
  const server = startServer(["dashboard", "--port", String(port), ...args]);
  const base = `http://127.0.0.1:${port}`;
  try {
    await eventually(
      async () => {
        try {
          const response = await fetch(`${base}/api/session`, {
            headers: token ? { authorization: `Bearer ${token}` } : {},
          });
          await response.body?.cancel();
          return response.ok;
        } catch {
          return false;
        }
      },
      30,
      `the dashboard on ${base}`,
    );
  } catch (error) {
    await server.stop();
    throw new Error(`${(error as Error).message}\n${server.stderr()}`);
  }
  return {
    base,
    stderr: server.stderr,
    stop: server.stop,
    [Symbol.asyncDispose]: async () => {
      await server.stop();
    },
  };
}
