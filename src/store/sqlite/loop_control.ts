/**
 * What the subscribers and task waiters of an embedded store ask of its
 * change loop (`change_loop.ts`): to run while one of them needs it, and to
 * look soon; and what the loop counts. Its own module, so that the event
 * log and the waiters, which the loop reads, do not import the loop.
 * @module
 */

/**
 * Milliseconds between two looks for changes (new events, tasks queued by
 * other processes) of the change loop, at most; always, without a watcher.
 */
export const POLL_MS = 20;

/** The change loop, as its subscribers and waiters see it. */
export interface LoopControl {
  /** Starts the loop, if it is needed and not running. */
  start(): void;
  /**
   * Stops the loop once nobody listens or waits, so that it keeps no
   * process alive. Resolves when its watcher is closed.
   */
  stopIfIdle(): Promise<void>;
  /** Looks as soon as the spacing of looks allows (not in this call). */
  lookSoon(): void;
}

/** What the change loop of a store did, counted. */
export interface ChangeLoopStats {
  /** Looks for a change (one `PRAGMA data_version` each). */
  looks: number;
  /** Reads of events or due tasks, by the loop and by waiting callers. */
  reads: number;
  /** Writes to the WAL file the watcher reported. */
  fileChanges: number;
}
