/**
 * Opens the store a URL names.
 * @module
 */
import { maskUrl } from "../model/_secrets.ts";
import { resolve } from "node:path";
import { SettingsError, StoreConnectionError } from "../model/errors.ts";
import { sqliteAccessProblem } from "./_sqlite_access.ts";
import { parseRedisUrl } from "./redis/redis_url.ts";
import type { Settings } from "../model/settings_types.ts";
import { splitStore } from "./split_store.ts";
import { SqliteStore } from "./sqlite/sqlite_store.ts";
import type { Store, StoreOptions } from "./store.ts";

/** How a store is opened, beyond the settings of the store itself. */
export interface OpenOptions {
  /**
   * Create the file of a `sqlite:<path>` store that does not exist yet
   * (default true). A pq server creates its store; a client (a `pq`
   * command, a producer) passes false, so that a mistyped path throws a
   * `StoreConnectionError` naming the file, instead of making an empty store
   * that no server reads and waiting for ever. `sqlite::memory:` and Redis
   * URLs are not affected.
   */
  create?: boolean;
}

/** The options of {@linkcode openStore}: the store's, and how to open it. */
export interface OpenStoreOptions extends StoreOptions, OpenOptions {}

/**
 * Opens `sqlite:<path>` (a file shared by the processes of one machine),
 * `sqlite::memory:` (one process) or `redis://host:port/db?namespace=pq`.
 * Throws a `StoreConnectionError` naming the URL when it cannot: with
 * `create: false`, also when the file of a `sqlite:<path>` does not exist.
 * A `sqlite:<path>` this process cannot write (a read-only mount, no
 * permission, a missing folder), or a Redis URL that cannot be read
 * (`redis://127.0.0.1:abc`), is a `SettingsError` saying why: a setting to
 * change, not a store out of reach.
 *
 * @example
 * ```ts
 * import { openStore } from "./open_store.ts";
 * // A client: a missing file is an error, not a new empty store.
 * await using store = await openStore("sqlite:pq.sqlite", {
 *   serializer: "json",
 *   resultTtl: 3600,
 *   create: false,
 * });
 * ```
 */
export function openStore(
  url: string,
  options: OpenStoreOptions,
): Promise<Store> {
  return open(url, options, "--data-store");
}

/** The schemes of the Redis store's URLs (see `redis/redis_url.ts`). */
const REDIS_SCHEMES = ["redis://", "rediss://", "redis+sentinel://"];

/** The setting a command-line flag sets: `--message-broker` is `messageBroker`. */
function settingOf(flag: string): string {
  return flag.slice(2).replace(/-(\w)/g, (_, c) => c.toUpperCase());
}

/**
 * Throws a `SettingsError` for a Redis URL that cannot be read, with the
 * reader's message (without the URL's password) and the flag to fix.
 */
function checkRedisUrl(url: string, flag: string): void {
  if (!REDIS_SCHEMES.some((scheme) => url.startsWith(scheme))) return;
  try {
    parseRedisUrl(url);
  } catch (error) {
    if (!(error instanceof StoreConnectionError)) throw error;
    throw new SettingsError(settingOf(flag), maskUrl(url), "a Redis URL", {
      message: `${
        error.message.replaceAll(url, maskUrl(url))
      }; set ${flag} to a URL such as redis://127.0.0.1:6379/0`,
      cause: error,
    });
  }
}

/** Opens a store; `flag` is the command-line option that names `url`. */
async function open(
  url: string,
  options: OpenStoreOptions,
  flag: string,
): Promise<Store> {
  if (url.startsWith("sqlite:")) {
    const path = url.slice("sqlite:".length);
    if (!path) {
      throw new StoreConnectionError(
        `Cannot open store '${url}': the sqlite URL needs a file path, as sqlite:pq.sqlite`,
      );
    }
    if (options.create === false && path !== ":memory:") {
      const missing = await missingFile(path);
      if (missing !== undefined) {
        throw new StoreConnectionError(
          `Cannot open store '${url}': no such file ${missing} (a pq server creates it: start one with ${flag} ${url})`,
        );
      }
    }
    try {
      return await SqliteStore.open(path, options);
    } catch (error) {
      // A path this process cannot write is a setting to change (exit 2),
      // said with its cause: SQLite only says "unable to open".
      const problem = path === ":memory:"
        ? undefined
        : await sqliteAccessProblem(path);
      if (problem) {
        throw new SettingsError(settingOf(flag), url, "a path pq can write", {
          message:
            `Cannot open store '${url}': ${problem}; set ${flag} to a writable path`,
          cause: error,
        });
      }
      throw new StoreConnectionError(
        `Cannot open store '${url}': ${
          error instanceof Error ? error.message : String(error)
        }`,
        { cause: error },
      );
    }
  }
  if (REDIS_SCHEMES.some((scheme) => url.startsWith(scheme))) {
    checkRedisUrl(url, flag);
    // Loaded when used: the Redis client is most of pq's start-up time, and
    // SQLite users and CPUBOUND subprocesses do not need it.
    const { RedisStore } = await import("./redis/redis_store.ts");
    return await RedisStore.open(url, options);
  }
  throw new StoreConnectionError(
    `Cannot open store '${
      maskUrl(url)
    }': unsupported scheme; use sqlite:<path>, redis://host:port/db or redis+sentinel://host:26379/<master>`,
  );
}

/**
 * The absolute path of a file that does not exist, or undefined when it
 * exists (or cannot be looked at: then opening it says why).
 */
async function missingFile(path: string): Promise<string | undefined> {
  try {
    await Deno.stat(path);
    return undefined;
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) return undefined;
  }
  try {
    return resolve(path);
  } catch {
    return path; // No permission to read the working directory.
  }
}

/**
 * Opens the store of resolved settings: `dataStore`, or, when
 * `messageBroker` names another URL, the queues on the broker and the other
 * channels and locks on the data store. `options.create: false` (clients)
 * applies to both URLs (see {@linkcode OpenOptions.create}).
 *
 * @example
 * ```ts
 * import { openSettingsStore } from "./open_store.ts";
 * import { defaultSettings } from "../model/settings_table.ts";
 * // A client of the default store, sqlite:pq.sqlite, made by a server.
 * await using store = await openSettingsStore(defaultSettings(), {
 *   create: false,
 * });
 * ```
 */
export async function openSettingsStore(
  settings: Settings,
  options: OpenOptions = {},
): Promise<Store> {
  const storeOptions: OpenStoreOptions = {
    serializer: settings.messageSerializer,
    resultTtl: settings.resultTtl,
    create: options.create,
  };
  // Both URLs read before either store is opened: a bad one is said first.
  checkRedisUrl(settings.dataStore, "--data-store");
  checkRedisUrl(settings.messageBroker, "--message-broker");
  const data = await open(settings.dataStore, storeOptions, "--data-store");
  if (
    !settings.messageBroker || settings.messageBroker === settings.dataStore
  ) {
    return data;
  }
  try {
    return splitStore(
      await open(settings.messageBroker, storeOptions, "--message-broker"),
      data,
    );
  } catch (error) {
    await data.close();
    throw error;
  }
}
