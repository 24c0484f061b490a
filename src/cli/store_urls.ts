/**
 * The store URLs of the settings, read before anything is opened: a Redis
 * URL that cannot be read (`redis://127.0.0.1:abc`) is a bad setting (exit
 * 2), as a bad flag is, not a store out of reach (exit 1).
 *
 * Invariant: it only reads the URLs (no connection); a SQLite path is left
 * to the store, which alone knows whether it can open it.
 * @module
 */
import { maskUrl } from "../model/_secrets.ts";
import { SettingsError, StoreConnectionError } from "../model/errors.ts";
import type { Settings } from "../model/settings_types.ts";
import { parseRedisUrl } from "../store/redis/redis_url.ts";

/**
 * Throws a {@linkcode SettingsError} for a Redis URL of `dataStore` or
 * `messageBroker` that cannot be read, with the reader's message (what was
 * expected) and the flag to fix.
 *
 * @example
 * ```ts
 * import { checkStoreUrls } from "./store_urls.ts";
 * checkStoreUrls({ dataStore: "redis://127.0.0.1:6379/0", messageBroker: "" });
 * ```
 */
export function checkStoreUrls(
  settings: Pick<Settings, "dataStore" | "messageBroker">,
): void {
  for (
    const [setting, flag] of [
      ["dataStore", "--data-store"],
      ["messageBroker", "--message-broker"],
    ] as const
  ) {
    const url = settings[setting];
    if (!/^redis(s|\+sentinel)?:/.test(url)) continue;
    try {
      parseRedisUrl(url);
    } catch (error) {
      if (!(error instanceof StoreConnectionError)) throw error;
      // The reader's message quotes the URL: without its password.
      const why = error.message.replaceAll(url, maskUrl(url));
      throw new SettingsError(setting, maskUrl(url), "a Redis URL", {
        message:
          `${why}; set ${flag} to a URL such as redis://127.0.0.1:6379/0`,
        cause: error,
      });
    }
  }
}
