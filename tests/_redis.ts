/**
 * A private `redis-server` for a test file, on its own port, stopped on
 * dispose: `await using redis = await startRedis();`.
 */

import type { RedisAddress } from "../src/store/redis/connection.ts";
import { parseRedisUrl } from "../src/store/redis/redis_url.ts";
import { requireProgram } from "./_server.ts";
import { delay } from "./_helpers.ts";

/** The namespace of {@linkcode RedisServer.url} by default. */
export const TEST_NAMESPACE = "pqtest";

/** A running redis-server. */
export interface RedisServer extends AsyncDisposable {
  /** Its port on 127.0.0.1. */
  port: number;
  /** `redis://[:<password>@]127.0.0.1:<port>/0?namespace=<namespace>`. */
  url(namespace?: string): string;
  /** Stops it (SIGKILL when `hard`) and resolves when it has exited. */
  stop(hard?: boolean): Promise<void>;
  /** Starts it again on the same port and folder (for restart tests). */
  restart(): Promise<void>;
  /** Runs a command with redis-cli and returns its output. */
  cli(...args: string[]): Promise<string>;
  /** Sends one command with binary arguments over a raw connection. */
  send(args: Array<string | Uint8Array>): Promise<string>;
  /** Kills the server at once (for an unload handler). */
  stopSync(): void;
}

/** Options of {@linkcode startRedis}. */
export interface RedisOptions {
  /** Turn on the append-only file (fsync always), so a restart keeps data. */
  aof?: boolean;
  /** Run as a one-node Redis Cluster owning every slot (cross-slot rules on). */
  cluster?: boolean;
  /** Listen on this port of 127.0.0.1 (default: a free one). */
  port?: number;
  /** Require this password (`url()` then carries it). */
  password?: string;
  /**
   * Serve TLS too, with a certificate of a CA made for it: `url()` is then
   * `rediss://` to the TLS port, with `ca=` its CA file (redis-cli keeps
   * the plain port).
   */
  tls?: boolean;
}

/** Makes a CA and a certificate of 127.0.0.1 signed by it, in `dir`. */
async function makeCertificates(dir: string): Promise<void> {
  await requireProgram("openssl");
  const run = async (...args: string[]) => {
    const output = await new Deno.Command("openssl", {
      args,
      cwd: dir,
      stdout: "null",
      stderr: "piped",
    }).output();
    if (!output.success) {
      throw new Error(
        `openssl ${args[0]} failed: ${new TextDecoder().decode(output.stderr)}`,
      );
    }
  };
  await Deno.writeTextFile(
    `${dir}/san.cnf`,
    "subjectAltName=IP:127.0.0.1,DNS:localhost\n",
  );
  await run(
    "req",
    "-x509",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-days",
    "2",
    "-keyout",
    "ca.key",
    "-out",
    "ca.crt",
    "-subj",
    "/CN=pq test CA",
  );
  await run(
    "req",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-keyout",
    "server.key",
    "-out",
    "server.csr",
    "-subj",
    "/CN=127.0.0.1",
  );
  await run(
    "x509",
    "-req",
    "-in",
    "server.csr",
    "-CA",
    "ca.crt",
    "-CAkey",
    "ca.key",
    "-CAcreateserial",
    "-days",
    "2",
    "-out",
    "server.crt",
    "-extfile",
    "san.cnf",
  );
}

/**
 * A port of 127.0.0.1 free now (the OS picks it; another process may take
 * it before it is used).
 */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

/**
 * Fails with how to install redis-server when it cannot be run here: the
 * Redis tests need it (none is skipped without it).
 */
export function requireRedis(): Promise<void> {
  return requireProgram("redis-server");
}

/**
 * Starts a private redis-server in a temporary folder; fails, saying how to
 * install it, without redis-server.
 */
export async function startRedis(
  options: RedisOptions = {},
): Promise<RedisServer> {
  await requireRedis();
  const port = options.port ?? freePort();
  const tlsPort = options.tls ? freePort() : 0;
  const dir = await Deno.makeTempDir({ prefix: "pq_redis_" });
  if (options.tls) await makeCertificates(dir);
  let process: Deno.ChildProcess | undefined;
  const cli = async (...args: string[]) => {
    const output = await new Deno.Command("redis-cli", {
      args: [
        "-p",
        String(port),
        ...(options.password
          ? ["-a", options.password, "--no-auth-warning"]
          : []),
        ...args,
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    return new TextDecoder().decode(output.stdout).trim();
  };
  const start = async () => {
    process = new Deno.Command("redis-server", {
      args: [
        "--port",
        String(port),
        "--bind",
        "127.0.0.1",
        "--dir",
        dir,
        "--save",
        "",
        ...(options.password ? ["--requirepass", options.password] : []),
        ...(options.tls
          ? [
            "--tls-port",
            String(tlsPort),
            "--tls-cert-file",
            `${dir}/server.crt`,
            "--tls-key-file",
            `${dir}/server.key`,
            "--tls-ca-cert-file",
            `${dir}/ca.crt`,
            "--tls-auth-clients",
            "no",
          ]
          : []),
        ...(options.aof
          ? ["--appendonly", "yes", "--appendfsync", "always"]
          : ["--appendonly", "no"]),
        ...(options.cluster
          ? [
            "--cluster-enabled",
            "yes",
            "--cluster-config-file",
            `${dir}/nodes.conf`,
          ]
          : []),
      ],
      stdout: "null",
      stderr: "null",
      stdin: "null",
    }).spawn();
    for (let i = 0; i < 200; i++) {
      if ((await cli("PING")) === "PONG") break;
      await delay(25);
      if (i === 199) {
        throw new Error(`redis-server did not start on port ${port}`);
      }
    }
    if (!options.cluster) return;
    await cli("CLUSTER", "ADDSLOTSRANGE", "0", "16383");
    for (let i = 0; i < 200; i++) {
      if ((await cli("CLUSTER", "INFO")).includes("cluster_state:ok")) return;
      await delay(25);
    }
    throw new Error(`redis-server on port ${port} did not become a cluster`);
  };
  const stop = async (hard = false) => {
    if (!process) return;
    try {
      process.kill(hard ? "SIGKILL" : "SIGTERM");
    } catch {
      // Already gone.
    }
    await process.status;
    process = undefined;
  };
  await start();
  const send = async (args: Array<string | Uint8Array>) => {
    const encoder = new TextEncoder();
    const parts: Uint8Array[] = [encoder.encode(`*${args.length}\r\n`)];
    for (const arg of args) {
      const bytes = typeof arg === "string" ? encoder.encode(arg) : arg;
      parts.push(
        encoder.encode(`$${bytes.length}\r\n`),
        bytes,
        encoder.encode("\r\n"),
      );
    }
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    try {
      for (const part of parts) await conn.write(part);
      const buffer = new Uint8Array(4096);
      const n = await conn.read(buffer);
      return new TextDecoder().decode(buffer.subarray(0, n ?? 0)).trim();
    } finally {
      conn.close();
    }
  };
  return {
    send,
    stopSync() {
      try {
        process?.kill("SIGKILL");
      } catch {
        // Already gone.
      }
      try {
        Deno.removeSync(dir, { recursive: true });
      } catch {
        // Already removed.
      }
    },
    port,
    url: (namespace = TEST_NAMESPACE) =>
      `${options.tls ? "rediss" : "redis"}://${
        options.password ? `:${encodeURIComponent(options.password)}@` : ""
      }127.0.0.1:${options.tls ? tlsPort : port}/0?namespace=${namespace}${
        options.tls ? `&ca=${encodeURIComponent(`${dir}/ca.crt`)}` : ""
      }`,
    stop,
    restart: start,
    cli,
    async [Symbol.asyncDispose]() {
      await stop();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

/**
 * Where a `RedisClient` connects for a store URL of one server (its first
 * host, its credentials, TLS and database), read as the store reads it.
 */
export function clientAddress(url: string): RedisAddress {
  const target = parseRedisUrl(url);
  return {
    ...target.hosts[0],
    tls: target.tls,
    db: target.db,
    ...(target.username && { username: target.username }),
    ...(target.password && { password: target.password }),
  };
}
