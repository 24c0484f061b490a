/**
 * The Web Worker that beats for its process (see `beat.ts`): it opens its
 * own connection to the store, so it beats while the main thread is busy.
 * @module
 */
/// <reference no-default-lib="true" />
/// <reference lib="deno.worker" />
import type { WorkerStatus } from "../model/worker_status.ts";
import { openStoreWaiting } from "./store_wait.ts";
import { beatLoop, type FromBeatThread, type ToBeatThread } from "./beat.ts";

const post = (message: FromBeatThread) => self.postMessage(message);
let status: WorkerStatus | undefined;
let wake = () => {};
const stop = new AbortController();

self.onmessage = async (event: MessageEvent<ToBeatThread>) => {
  const message = event.data;
  if (message.type === "status") {
    const busy = message.status.concurrentTasks.length > 0;
    const wasBusy = status !== undefined && status.concurrentTasks.length > 0;
    status = message.status;
    // A process that becomes busy beats at once, at the busy pace; one idle
    // again says so at once too (its workers and metrics show it idle).
    if (busy !== wasBusy) wake();
  } else if (message.type === "stop") {
    stop.abort();
  } else if (message.type === "start") {
    status = message.status;
    try {
      // Its process has opened the store: a wait here is for a store lost
      // just after (said by the process's own calls), so it says nothing.
      const store = await openStoreWaiting(message.settings, {
        signal: stop.signal,
        log: false,
      });
      if (!store) {
        post({ type: "stopped" });
        return;
      }
      const loop = beatLoop(store, () => status!, {
        onDead: (dead) => post({ type: "dead", dead }),
        onForgotten: () => post({ type: "forgotten" }),
        onError: (error, failure) => post({ type: "error", error, failure }),
        onRecovered: () => post({ type: "recovered" }),
      }, stop.signal);
      wake = loop.wake;
      await loop.done;
      await store.close();
      post({ type: "stopped" });
    } catch (error) {
      post({ type: "failed", error: String(error) });
    }
  }
};
