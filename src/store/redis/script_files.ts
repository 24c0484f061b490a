/**
 * The Lua scripts of the Redis store, loaded: one per state transition,
 * each in its own file under `lua/`, with a header naming its KEYS, its
 * ARGV and its reply (the format is in `lua/script.ts`). A script reads
 * them by name (`K.ready`, `A.now`), and is called by name (`scriptCall`,
 * through `Scripts` in `scripts.ts`): a call and a header that disagree
 * throw before anything is sent.
 *
 * Invariants:
 * - A queue's script touches only the keys of that queue (`@queue`, see
 *   `queueKeys` in `keys.ts`), which share a hash tag, so a queue lives on
 *   one Redis Cluster slot. A task has no key of its own: its queue is
 *   found by looking in the queues of the registry (`<ns>:queues`).
 * - The files are imported as text (`with { type: "text" }`, stable since
 *   Deno 2.8): they are part of the module graph, so they load with no read
 *   permission, from a clone used through `links`, and from the binary
 *   `deno compile` builds (which embeds the graph), once per process.
 * - The scripts that share helpers (`lua/_helpers.lua`) get them prepended;
 *   the others do not, so each script's calls are exactly what they were.
 * - Messages are published as `<event>\n<encoded data>`, or
 *   `*<event>\n<list>` for many of one event.
 * - A queue's `search` index holds exactly the ids that have a record in
 *   its `tasks` or `done` hash: the script that writes a new record adds
 *   it (`enqueue` in `_helpers.lua`, and `settle.lua` for a record that
 *   was never queued: one ZADD a task), each script that
 *   drops records removes them (`expired.lua`, `flush.lua`,
 *   `delete_tasks.lua`: one ZREM a batch), in the same transition.
 * - A task is counted in its queue's status history (`history`) by the
 *   script that ends it (`finish.lua`, `revoke.lua`, `settle.lua`, through
 *   `_helpers.lua`), in the same transition.
 * @module
 */
import helpers from "./lua/_helpers.lua" with { type: "text" };
import acquireLock from "./lua/acquire_lock.lua" with { type: "text" };
import beat from "./lua/beat.lua" with { type: "text" };
import claim from "./lua/claim.lua" with { type: "text" };
import deleteTasks from "./lua/delete_tasks.lua" with { type: "text" };
import enqueue from "./lua/enqueue.lua" with { type: "text" };
import enqueueUnique from "./lua/enqueue_unique.lua" with { type: "text" };
import expireLeases from "./lua/expire_leases.lua" with { type: "text" };
import expired from "./lua/expired.lua" with { type: "text" };
import finish from "./lua/finish.lua" with { type: "text" };
import flush from "./lua/flush.lua" with { type: "text" };
import forgetQueue from "./lua/forget_queue.lua" with { type: "text" };
import jobStats from "./lua/job_stats.lua" with { type: "text" };
import joinGroup from "./lua/join_group.lua" with { type: "text" };
import pause from "./lua/pause.lua" with { type: "text" };
import progress from "./lua/progress.lua" with { type: "text" };
import release from "./lua/release.lua" with { type: "text" };
import releaseLock from "./lua/release_lock.lua" with { type: "text" };
import renew from "./lua/renew.lua" with { type: "text" };
import claimedBy from "./lua/claimed_by.lua" with { type: "text" };
import resume from "./lua/resume.lua" with { type: "text" };
import revoke from "./lua/revoke.lua" with { type: "text" };
import settle from "./lua/settle.lua" with { type: "text" };
import upsertSchedule from "./lua/upsert_schedule.lua" with { type: "text" };
import pauseSchedule from "./lua/pause_schedule.lua" with { type: "text" };
import removeSchedule from "./lua/remove_schedule.lua" with { type: "text" };
import takeScheduleRun from "./lua/take_schedule_run.lua" with {
  type: "text",
};
import { QUEUE_KEYS } from "./keys.ts";
import {
  loadScript,
  type LuaScript,
  type ScriptContext,
} from "./lua/script.ts";

/** Every `.lua` file under `lua/`, by name, as imported. */
export const LUA_FILES: Readonly<Record<string, string>> = {
  "_helpers.lua": helpers,
  "acquire_lock.lua": acquireLock,
  "beat.lua": beat,
  "claim.lua": claim,
  "delete_tasks.lua": deleteTasks,
  "enqueue.lua": enqueue,
  "enqueue_unique.lua": enqueueUnique,
  "expire_leases.lua": expireLeases,
  "expired.lua": expired,
  "finish.lua": finish,
  "flush.lua": flush,
  "forget_queue.lua": forgetQueue,
  "job_stats.lua": jobStats,
  "join_group.lua": joinGroup,
  "pause.lua": pause,
  "progress.lua": progress,
  "release.lua": release,
  "release_lock.lua": releaseLock,
  "renew.lua": renew,
  "claimed_by.lua": claimedBy,
  "resume.lua": resume,
  "revoke.lua": revoke,
  "settle.lua": settle,
  "upsert_schedule.lua": upsertSchedule,
  "pause_schedule.lua": pauseSchedule,
  "remove_schedule.lua": removeSchedule,
  "take_schedule_run.lua": takeScheduleRun,
};

/** What the scripts are loaded with: the queue's keys, the helpers. */
const SCRIPT_CONTEXT: ScriptContext = {
  queueKeys: QUEUE_KEYS,
  helpers: { "_helpers.lua": helpers },
};

function load(file: string): LuaScript {
  return loadScript(file, LUA_FILES[file], SCRIPT_CONTEXT);
}

/** Queues tasks in one queue, all or none. */
export const ENQUEUE: LuaScript = load("enqueue.lua");
/** Queues one task unless its id is stored or its dedupe key held. */
export const ENQUEUE_UNIQUE: LuaScript = load("enqueue_unique.lua");
/** Claims ready tasks of a queue under new leases. */
export const CLAIM: LuaScript = load("claim.lua");
/** Renews leases; says which tasks were asked to stop. */
export const RENEW: LuaScript = load("renew.lua");
/** The leases a claim whose reply was lost took in a queue. */
export const CLAIMED_BY: LuaScript = load("claimed_by.lua");
/** Writes how running tasks ended, and their retries. */
export const FINISH: LuaScript = load("finish.lua");
/** Puts leased tasks back in their queue. */
export const RELEASE: LuaScript = load("release.lua");
/** Expired leases, and retention of finished tasks. */
export const EXPIRED: LuaScript = load("expired.lua");
/** Revokes a queued task, or asks a running one to stop. */
export const REVOKE: LuaScript = load("revoke.lua");
/** Counts a queue's newest tasks by job and status, with run times. */
export const JOB_STATS: LuaScript = load("job_stats.lua");
/** Drops every queued task of a queue. */
export const FLUSH: LuaScript = load("flush.lua");
/** Stores the progress of a running task, by its lease holder. */
export const PROGRESS: LuaScript = load("progress.lua");
/** Takes or renews a named lock. */
export const ACQUIRE_LOCK: LuaScript = load("acquire_lock.lua");
/** Frees a named lock. */
export const RELEASE_LOCK: LuaScript = load("release_lock.lua");
/** A worker's beat; reports the workers whose beat expired. */
export const BEAT: LuaScript = load("beat.lua");
/** Ends the leases of a dead worker's tasks in one queue. */
export const EXPIRE_LEASES: LuaScript = load("expire_leases.lua");
/** Drops a queue from the registry unless it was registered again. */
export const FORGET_QUEUE: LuaScript = load("forget_queue.lua");
/** Pauses a queue: claims skip it until it is resumed. */
export const PAUSE: LuaScript = load("pause.lua");
/** Resumes a paused queue and wakes a worker waiting on it. */
export const RESUME: LuaScript = load("resume.lua");
/** Stores the final record of a task that never ran, unless its id is stored. */
export const SETTLE: LuaScript = load("settle.lua");
/** Deletes finished tasks of a queue by id. */
export const DELETE_TASKS: LuaScript = load("delete_tasks.lua");
/** Records a member of a group; answers with all values once all are there. */
export const JOIN_GROUP: LuaScript = load("join_group.lua");
/** Stores a schedule's definition, keeping its runs. */
export const UPSERT_SCHEDULE: LuaScript = load("upsert_schedule.lua");
/** Pauses or resumes a schedule. */
export const PAUSE_SCHEDULE: LuaScript = load("pause_schedule.lua");
/** Deletes a schedule. */
export const REMOVE_SCHEDULE: LuaScript = load("remove_schedule.lua");
/** Takes a schedule's run of a due time once (compare-and-set). */
export const TAKE_SCHEDULE_RUN: LuaScript = load("take_schedule_run.lua");

/** Every script of the store. */
export const SCRIPTS: readonly LuaScript[] = [
  ENQUEUE,
  ENQUEUE_UNIQUE,
  CLAIM,
  RENEW,
  CLAIMED_BY,
  FINISH,
  RELEASE,
  EXPIRED,
  REVOKE,
  FLUSH,
  PROGRESS,
  ACQUIRE_LOCK,
  RELEASE_LOCK,
  BEAT,
  EXPIRE_LEASES,
  FORGET_QUEUE,
  PAUSE,
  RESUME,
  SETTLE,
  JOIN_GROUP,
  JOB_STATS,
  DELETE_TASKS,
  UPSERT_SCHEDULE,
  PAUSE_SCHEDULE,
  REMOVE_SCHEDULE,
  TAKE_SCHEDULE_RUN,
];
