/**
 * The entry of the Web Workers that run THREAD_IO jobs. Each runs one task
 * at a time, sent by its worker process's thread pool.
 * @module
 */
/// <reference no-default-lib="true" />
/// <reference lib="deno.worker" />
import { RemoteJobRunner } from "./remote_job.ts";
import type { ToRemote } from "./remote_protocol.ts";

const runner = new RemoteJobRunner((message) => self.postMessage(message));

self.onmessage = (event: MessageEvent<ToRemote | { type: "abort" }>) => {
  const message = event.data;
  if (message.type === "abort") {
    // The pool terminates this worker next: aborted I/O stops first. The
    // answer tells the pool this thread is not stuck in synchronous code.
    runner.controller.abort(new Error("The task was stopped"));
    self.postMessage({ type: "aborted" });
    return;
  }
  runner.receive(message);
};
