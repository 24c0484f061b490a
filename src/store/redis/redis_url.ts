/**
 * The URLs of a Redis store, read into where and how to connect:
 *
 * - `redis://[[user]:password@]host[:port][/db][?namespace=pq]`: one
 *   server, or a Redis Cluster reached through it;
 * - `redis://host:port,host:port,.../db?...`: Cluster seed nodes (any one
 *   that answers gives the slot map);
 * - `rediss://...`: the same over TLS; `&ca=<PEM file>` names the CA of a
 *   server whose certificate no system CA signed, `&servername=<name>` the
 *   name its certificate carries when it is not the host of the URL;
 * - `redis+sentinel://[[user]:password@]host:port[,host:port...]/<master>[/db]`:
 *   the primary named `<master>`, found through the sentinels listed (port
 *   26379 by default); the password is the primary's (the sentinels are
 *   asked without one).
 *
 * Query parameters: `namespace` (`pq`), `ca` (above), and `durability`:
 * `replicated` makes each write wait for a replica (see `topology.ts`).
 *
 * Pure: no I/O. Every malformed part is a `StoreConnectionError` saying
 * what was expected, never a URL parser's message.
 * @module
 */
import { StoreConnectionError } from "../../model/errors.ts";

/** A host and port. */
export interface HostPort {
  hostname: string;
  port: number;
}

/** Where and how a Redis store connects. */
export interface RedisTarget {
  /** A server (or Cluster seed nodes), or the sentinels of a primary. */
  kind: "server" | "sentinel";
  /** The server or seed nodes, or the sentinels; one at least. */
  hosts: HostPort[];
  tls: boolean;
  username?: string;
  password?: string;
  db: number;
  /** The namespace of the store's keys and channels. */
  namespace: string;
  /** The PEM file of a private CA (TLS only). */
  caFile?: string;
  /** The name the server's certificate must carry (TLS only). */
  serverName?: string;
  /** The name the sentinels know the primary by (sentinel only). */
  masterName?: string;
  /**
   * `replicated`: each write waits for a replica's acknowledgment
   * (`WAIT`) before it is reported done; `async` (the default): Redis's own
   * asynchronous replication.
   */
  durability: "async" | "replicated";
}

const FORM = "redis://host:port/db?namespace=pq";
const SCHEMES: Record<string, { kind: RedisTarget["kind"]; tls: boolean }> = {
  "redis": { kind: "server", tls: false },
  "rediss": { kind: "server", tls: true },
  "redis+sentinel": { kind: "sentinel", tls: false },
};

/** Reads a Redis store URL (see the module header for its forms). */
export function parseRedisUrl(url: string): RedisTarget {
  const fail = (why: string): never => {
    throw new StoreConnectionError(`Cannot open store '${url}': ${why}`);
  };
  const match = url.match(/^([a-z+]+):\/\/(?:([^@/?#]*)@)?([^/?#]*)(.*)$/);
  if (!match) return fail(`not a URL (expected ${FORM})`);
  const [, scheme, credentials, hostList, rest] = match;
  const form = SCHEMES[scheme];
  if (!form) {
    return fail(
      "the scheme must be redis://, rediss:// or redis+sentinel://",
    );
  }
  const defaultPort = form.kind === "sentinel" ? 26379 : 6379;
  const hosts = hostList.split(",").map((host) =>
    hostPort(host, defaultPort, fail)
  );
  // What follows the hosts is read as a URL of the first host's.
  let parsed: URL;
  try {
    parsed = new URL(`redis://h${rest}`);
  } catch {
    return fail(`not a URL (expected ${FORM})`);
  }
  const path = decodeURIComponent(parsed.pathname).replace(/^\//, "");
  const parts = path === "" ? [] : path.split("/");
  let masterName: string | undefined;
  if (form.kind === "sentinel") {
    masterName = parts.shift();
    if (!masterName) {
      fail(
        "a sentinel URL names its primary: redis+sentinel://host:26379/<master>",
      );
    }
  }
  const db = parts.join("/");
  if (db && !/^\d+$/.test(db)) {
    fail(`the database must be a number, got '${db}'`);
  }
  const namespace = parsed.searchParams.get("namespace") ?? "pq";
  if (!/^[A-Za-z0-9_.-]+$/.test(namespace)) {
    fail(
      `namespace must be letters, digits, '_', '.' or '-', got '${namespace}'`,
    );
  }
  const caFile = parsed.searchParams.get("ca") ?? undefined;
  if (caFile !== undefined && !form.tls) {
    fail("'ca' is for TLS, whose scheme is rediss://");
  }
  if (caFile === "") fail("'ca' must be the path of a PEM file");
  const serverName = parsed.searchParams.get("servername") ?? undefined;
  if (serverName !== undefined && !form.tls) {
    fail("'servername' is for TLS, whose scheme is rediss://");
  }
  if (serverName === "") fail("'servername' must be a host name");
  const durability = parsed.searchParams.get("durability") ?? "async";
  if (durability !== "async" && durability !== "replicated") {
    fail(`durability must be async or replicated, got '${durability}'`);
  }
  const [user, password] = (credentials ?? "").split(/:(.*)/s);
  return {
    kind: form.kind,
    hosts,
    tls: form.tls,
    ...(user && { username: decodeURIComponent(user) }),
    ...(password && { password: decodeURIComponent(password) }),
    db: Number(db || 0),
    namespace,
    ...(caFile && { caFile }),
    ...(serverName && { serverName }),
    ...(masterName && { masterName }),
    durability: durability as RedisTarget["durability"],
  };
}

/** A `host[:port]` (IPv6 in brackets) of a URL's host list. */
function hostPort(
  host: string,
  defaultPort: number,
  fail: (why: string) => never,
): HostPort {
  const match = host.match(/^(\[[^\]]+\]|[^:\[\]]*)(?::(\d*))?$/);
  if (!match) return fail(`'${host}' is not a host[:port]`);
  const [, name, port = ""] = match;
  const number = port === "" ? defaultPort : Number(port);
  if (!Number.isInteger(number) || number < 1 || number > 65535) {
    fail(`the port must be a number from 1 to 65535, got '${port}'`);
  }
  return {
    hostname: name.replace(/^\[|\]$/g, "") || "127.0.0.1",
    port: number,
  };
}
