/**
 * The change loop of the embedded store: how a process learns that another
 * one committed (an event to deliver, a task queued), without a server to
 * tell it. One loop per store, while anyone in the process listens or
 * waits for tasks: it reads `PRAGMA data_version` (it changes when another
 * connection commits; this one's commits are known here), and reads events
 * and due tasks only when it changed.
 *
 * On Linux the loop looks when the WAL file is written (inotify: every
 * commit of another process writes it), and once more an interval later,
 * plus every 5 s in case a change went unseen; elsewhere it looks every
 * {@linkcode POLL_MS}. Idle processes thus wake a few times a second, not a
 * hundred. While commits come (a busy worker's own, or another process's),
 * it looks every {@linkcode POLL_MS} instead of hearing each write of the
 * file, and watches again once a look finds none.
 *
 * Invariants:
 * - Two looks are at least {@linkcode POLL_MS} apart, and a change is seen
 *   within about that time.
 * - A look that fails is tried again {@linkcode POLL_MS} later. A busy
 *   file (SQLITE_BUSY) is expected; any other error is logged, once until
 *   a look succeeds again. The loop never stops on an error.
 * - The loop keeps no process alive once nobody listens or waits.
 * @module
 */
import { getLogger } from "@logtape/logtape";
import type { StoreContext } from "./context.ts";
import { isBusy } from "./errors.ts";
import {
  type ChangeLoopStats,
  type LoopControl,
  POLL_MS,
} from "./loop_control.ts";
import { PRUNE_EVERY_SECONDS } from "./events.ts";

const logger = getLogger(["pq", "store"]);

/** Milliseconds between looks of a loop that watches the WAL file. */
const WATCHED_POLL_MS = 5000;

/** What a change loop looks at. */
export interface ChangeLoopOptions {
  /** `sqlite:<path>`, for its log. */
  url: string;
  ctx: StoreContext;
  /** Where its looks and the file changes it heard are counted. */
  stats: ChangeLoopStats;
}

/** The change loop of one store. */
export class ChangeLoop implements LoopControl {
  readonly #url: string;
  readonly #ctx: StoreContext;
  readonly #stats: ChangeLoopStats;
  /** Whether the loop runs (someone listens or waits). */
  #looping = false;
  #pollTimer?: ReturnType<typeof setTimeout>;
  /** When (`Date.now()`) the scheduled look runs. */
  #pollAt = 0;
  /** When the last look ran. */
  #lastLook = -Infinity;
  /** Look until then: the WAL file was written just before. */
  #lookUntil = 0;
  /** The data version at the last look. */
  #dataVersion = 0;
  /** The store's commits at the last look. */
  #commitsAtLook = 0;
  #watcher?: Deno.FsWatcher;
  /** The loops reading watchers, until they end. */
  readonly #watching = new Set<Promise<void>>();
  /** False once the WAL file could not be watched: the loop polls. */
  #canWatch = true;
  /** A look failed, and none has succeeded since (its error is logged). */
  #failing = false;
  #closed = false;

  constructor(options: ChangeLoopOptions) {
    this.#url = options.url;
    this.#ctx = options.ctx;
    this.#stats = options.stats;
  }

  start(): void {
    if (this.#looping || !this.#needed()) return;
    this.#looping = true;
    this.#commitsAtLook = this.#ctx.commits;
    try {
      this.#dataVersion = this.#readDataVersion();
    } catch (error) {
      this.#lookFailed(error);
      this.#lookUntil = Date.now() + POLL_MS; // Look again soon.
    }
    this.#watch();
    this.#schedule(this.#watcher ? WATCHED_POLL_MS : POLL_MS);
  }

  stopIfIdle(): Promise<void> {
    if (this.#needed()) return Promise.resolve();
    this.#looping = false;
    clearTimeout(this.#pollTimer);
    this.#pollTimer = undefined;
    this.#watcher?.close();
    this.#watcher = undefined;
    return Promise.all([...this.#watching]).then(() => {});
  }

  lookSoon(): void {
    this.#schedule(this.#lastLook + POLL_MS - Date.now());
  }

  /** Stops the loop for good (the store closes); resolves as `stopIfIdle`. */
  close(): Promise<void> {
    this.#closed = true;
    return this.stopIfIdle();
  }

  /** Whether anyone in this process listens or waits for tasks. */
  #needed(): boolean {
    return !this.#closed &&
      (this.#ctx.events.listening || this.#ctx.waiters.waiting);
  }

  /**
   * Watches the WAL file, where every commit of another process writes.
   * Linux only: inotify reports every write; the file notices of other
   * systems may come late or not at all for a file rewritten in place.
   * Without a watcher (no permission to read the file, no inotify left),
   * the loop looks every {@linkcode POLL_MS}.
   */
  #watch(): void {
    const { walPath } = this.#ctx;
    if (walPath === undefined || Deno.build.os !== "linux" || !this.#canWatch) {
      return;
    }
    let watcher: Deno.FsWatcher;
    try {
      watcher = Deno.watchFs(walPath, { recursive: false });
    } catch (error) {
      this.#canWatch = false;
      if (!cannotRead(error)) {
        logger.warn(
          "Store {url}: cannot watch its WAL file, polling instead: {error}",
          { url: this.#url, error },
        );
      }
      return;
    }
    this.#watcher = watcher;
    const watching = (async () => {
      try {
        for await (const event of watcher) {
          // Gone (only by hand: SQLite keeps it while we are connected).
          if (event.kind === "remove") break;
          this.#onFileChange();
        }
      } catch (error) {
        // A watcher closed while it read may say so; the loop polls now.
        if (!closedResource(error)) {
          logger.warn(
            "Store {url}: its WAL file watcher failed, polling instead: {error}",
            { url: this.#url, error },
          );
        }
      }
      if (this.#watcher === watcher) {
        // It ended by itself, not closed by `#pace`.
        this.#canWatch = false;
        this.#watcher = undefined;
        watcher.close();
        this.lookSoon();
      }
    })();
    this.#watching.add(watching);
    watching.finally(() => this.#watching.delete(watching));
  }

  /**
   * The WAL file was written: another process commits, or has just
   * committed. Its writer makes the commit visible just after the write,
   * so look now and once more an interval later, in case now was too soon.
   */
  #onFileChange(): void {
    this.#stats.fileChanges++;
    const now = Date.now();
    this.#lookUntil = now + POLL_MS;
    // Right here, not on a timer: one wake-up less per commit.
    if (now - this.#lastLook >= POLL_MS) this.#look();
    else this.#schedule(this.#lastLook + POLL_MS - now);
  }

  /** Looks in `ms`, unless a look is scheduled sooner. */
  #schedule(ms: number): void {
    if (!this.#looping) return;
    const wait = Math.max(0, ms);
    const at = Date.now() + wait;
    if (this.#pollTimer !== undefined && this.#pollAt <= at) return;
    clearTimeout(this.#pollTimer);
    this.#pollAt = at;
    this.#pollTimer = setTimeout(() => {
      this.#pollTimer = undefined;
      this.#look();
    }, wait);
  }

  /**
   * One look of the change loop: reads the data version, and only when it
   * changed (or this store wrote events its subscribers wait for) reads
   * the events and the due tasks. Then schedules the next look.
   */
  #look(): void {
    clearTimeout(this.#pollTimer);
    this.#pollTimer = undefined;
    if (!this.#looping) return;
    const { events, waiters } = this.#ctx;
    const now = Date.now();
    this.#lastLook = now;
    let next = this.#watcher ? WATCHED_POLL_MS : POLL_MS;
    try {
      this.#stats.looks++;
      const version = this.#readDataVersion();
      const changed = version !== this.#dataVersion;
      const committed = this.#ctx.commits !== this.#commitsAtLook;
      this.#commitsAtLook = this.#ctx.commits;
      this.#pace(changed || committed);
      next = this.#watcher ? WATCHED_POLL_MS : POLL_MS;
      // On an error the version is kept: the next look reads again.
      events.deliverNew(changed);
      this.#dataVersion = version;
      // Tasks queued by this process have woken its waiters already.
      if (changed) waiters.lookAgain();
      // A process that only listens prunes too, now and then.
      if (
        events.listening &&
        this.#ctx.now() - events.lastPrune > PRUNE_EVERY_SECONDS
      ) {
        this.#ctx.transaction(() => events.prune());
      }
      this.#failing = false;
    } catch (error) {
      this.#lookFailed(error);
      next = POLL_MS; // Look again soon.
    }
    if (this.#lookUntil > now) next = Math.min(next, this.#lookUntil - now);
    this.#schedule(next);
  }

  /**
   * A look failed: the loop looks again soon. SQLITE_BUSY is expected
   * (another process held the write lock past the busy timeout, or the
   * file was being recovered); any other error (a broken file, a full
   * disk) is logged, once until a look succeeds again.
   */
  #lookFailed(error: unknown): void {
    if (isBusy(error) || this.#failing) return;
    this.#failing = true;
    logger.error(
      "Store {url}: cannot look for changes, trying again: {error}",
      { url: this.#url, error },
    );
  }

  /**
   * While commits come (this store's or another's), the loop polls every
   * {@linkcode POLL_MS} instead of hearing the WAL file: each commit writes
   * it page by page, and a watcher hears every write (a busy worker's own
   * commits made 18,000 notices in a 10,000-task drain, each a path
   * resolved and the file opened by the runtime, then a wake-up here; the
   * drain ran 1.3-1.6x faster without them). Looks stay as far apart as
   * when watching ({@linkcode POLL_MS}), so a commit is seen as soon; the
   * first look that finds none watches again, and idle stores wake only
   * when another process commits.
   */
  #pace(busy: boolean): void {
    if (busy) {
      const watcher = this.#watcher;
      this.#watcher = undefined;
      watcher?.close();
    } else if (!this.#watcher) {
      this.#watch();
    }
  }

  #readDataVersion(): number {
    return (this.#ctx.sql.dataVersion.get() as { data_version: number })
      .data_version;
  }
}

/**
 * True for the errors of watching a file this process may not read, or
 * that is not there: the loop polls instead, as it does off Linux.
 */
function cannotRead(error: unknown): boolean {
  return error instanceof Deno.errors.NotCapable ||
    error instanceof Deno.errors.PermissionDenied ||
    error instanceof Deno.errors.NotFound;
}

/** True for the error of reading a watcher that was closed meanwhile. */
function closedResource(error: unknown): boolean {
  return error instanceof Deno.errors.BadResource ||
    error instanceof Deno.errors.Interrupted;
}
