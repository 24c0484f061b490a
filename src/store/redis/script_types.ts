/**
 * What the scripts of the Redis store take and answer, as named fields:
 * the arguments and replies of the typed calls of `scripts.ts`.
 * @module
 */
import type { Buffer } from "node:buffer";

/** What a script that queues a task is told of it (`queuedFields`). */
export type QueuedTask = {
  id: string;
  /** When it is due, in seconds. */
  due: number;
  /** Its timeQueued: its place in the search index. */
  queued: number;
  /** Its encoded record. */
  record: Uint8Array;
  /** Its maxConcurrency, priority and rate limit (`limitOf`). */
  limit: string;
  /** Its job's name. */
  name: string;
};

/** One job's tallies in a queue, as `job_stats.lua` answers them. */
export interface QueueJobStats {
  /** The job's name. */
  name: string;
  /** How many of its tasks have each status, as [status, count] pairs. */
  counts: Array<[number, number]>;
  /** Run times of its newest ended tasks: [timeQueued, seconds], newest first. */
  runs: Array<[number, number]>;
}

/** A lease as the scripts take it. */
export type LeaseArg = { id: string; token: string };

/** A task a claim took, as `claim.lua` answers it. */
export interface ClaimedTask {
  /** The name of its queue. */
  queue: string;
  id: string;
  /** Its lease's token. */
  token: string;
  /** How many times its lease expired before. */
  redeliveries: number;
  /** Its record as stored. */
  record: Buffer;
  /** When it was handed over, for a task handed over earlier. */
  handedAt?: number;
}

/** A running task whose lease expired, as `expired.lua` answers it. */
export interface ExpiredLease {
  id: string;
  /** Its lease's token ('' when it has none). */
  token: string;
  /** How many times its lease expired before this time. */
  redeliveries: number;
  /** Its record as stored (empty when it has none). */
  record: Buffer;
  /** Its revoke was asked for. */
  revokeAsked: boolean;
}

/**
 * How renewing a lease went, per `renew.lua`: lost, renewed, or renewed
 * and its task asked to stop (`revoked`).
 */
export type LeaseState = "lost" | "renewed" | "revoked";
