/**
 * Opens the store a URL names.
 * @module
 */
import { StoreConnectionError } from "../errors.ts";
import type { Settings } from "../settings_types.ts";
import { SplitStore } from "./split_store.ts";
import { SqliteStore } from "./sqlite_store.ts";
import type { Store, StoreOptions } from "./store.ts";

/**
 * Opens `sqlite:<path>` (a file shared by the processes of one machine) or
 * `sqlite::memory:` (one process). Throws a `StoreConnectionError` naming
 * the URL when it cannot.
 */
export async function openStore(
  url: string,
  options: StoreOptions,
): Promise<Store> {
  if (url.startsWith("sqlite:")) {
    const path = url.slice("sqlite:".length);
    if (!path) {
      throw new StoreConnectionError(
        `Cannot open store '${url}': the sqlite URL needs a file path, as sqlite:pq.sqlite`,
      );
    }
    try {
      return await SqliteStore.open(path, options);
    } catch (error) {
      throw new StoreConnectionError(
        `Cannot open store '${url}': ${
          error instanceof Error ? error.message : String(error)
        }`,
        { cause: error },
      );
    }
  }
  if (url.startsWith("redis://") || url.startsWith("rediss://")) {
    // Loaded when used: the Redis client is most of pq's start-up time, and
    // SQLite users and CPUBOUND subprocesses do not need it.
    const { RedisStore } = await import("./redis_store.ts");
    return await RedisStore.open(url, options);
  }
  throw new StoreConnectionError(
    `Cannot open store '${url}': unsupported scheme; use sqlite:<path> or redis://host:port/db`,
  );
}

/**
 * Opens the store of resolved settings: `dataStore`, or, when
 * `messageBroker` names another URL, the queues on the broker and the other
 * channels and locks on the data store.
 */
export async function openSettingsStore(settings: Settings): Promise<Store> {
  const options = {
    serializer: settings.messageSerializer,
    resultTtl: settings.resultTtl,
  };
  const data = await openStore(settings.dataStore, options);
  if (
    !settings.messageBroker || settings.messageBroker === settings.dataStore
  ) {
    return data;
  }
  try {
    return new SplitStore(
      await openStore(settings.messageBroker, options),
      data,
    );
  } catch (error) {
    await data.close();
    throw error;
  }
}
