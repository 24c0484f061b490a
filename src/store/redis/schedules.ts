/**
 * Schedules managed at run time on Redis: two HASHes under one hash tag,
 * so a Cluster keeps them on one slot and a script reaches both:
 *
 * - `<ns>:{schedules}:definitions`: schedule id → its definition, encoded
 *   by the store's codec;
 * - `<ns>:{schedules}:states`: schedule id → its state, as text:
 *   `<version>\t<runs>\t<last due or empty>\t<paused 0|1>\t<since>\t<created>`.
 *
 * Invariants:
 * - Every change is one script (`upsert_schedule.lua`,
 *   `pause_schedule.lua`, `remove_schedule.lua`, `take_schedule_run.lua`);
 *   a run is taken by a compare-and-set on the version and run count, so
 *   two callers cannot both take one.
 * - A schedule is its state: a definition without one (removed between two
 *   reads) is not listed.
 * @module
 */
import type {
  ScheduleDefinition,
  ScheduleState,
  StoredSchedule,
} from "../../model/schedule.ts";
import type { RedisContext } from "./context.ts";
import { type LuaScript, scriptCall, type ScriptNamed } from "./lua/script.ts";
import { bytesOrNil, flag, list, number, text } from "./replies.ts";
import type { RedisReply } from "./resp.ts";
import {
  PAUSE_SCHEDULE,
  REMOVE_SCHEDULE,
  TAKE_SCHEDULE_RUN,
  UPSERT_SCHEDULE,
} from "./script_files.ts";

/** The keys of the schedules of the namespace `namespace`. */
export function scheduleKeys(
  namespace: string,
): { definitions: string; states: string } {
  return {
    definitions: `${namespace}:{schedules}:definitions`,
    states: `${namespace}:{schedules}:states`,
  };
}

/** A state as `states` holds it; undefined when it is not one. */
function parseState(value: string): ScheduleState | undefined {
  const parts = value.split("\t");
  if (parts.length !== 6) return undefined;
  const [version, runs, lastDue, paused, since, created] = parts;
  return {
    version: Number(version),
    runs: Number(runs),
    ...(lastDue !== "" && { lastDue: Number(lastDue) }),
    paused: paused === "1",
    since: Number(since),
    created: Number(created),
  };
}

/** The schedules of a store. */
export class Schedules {
  readonly #ctx: RedisContext;
  readonly #keys: { definitions: string; states: string };

  /** The schedules of the store of `ctx`. */
  constructor(ctx: RedisContext) {
    this.#ctx = ctx;
    this.#keys = scheduleKeys(ctx.namespace);
  }

  /** Stores a definition; true when it was created. */
  async upsertSchedule(definition: ScheduleDefinition): Promise<boolean> {
    const reply = await this.#run(UPSERT_SCHEDULE, this.#keys, {
      id: definition.id,
      definition: this.#ctx.codec.encode(definition),
      now: this.#ctx.now(),
    });
    return flag(reply, UPSERT_SCHEDULE.file);
  }

  /** Every schedule, sorted by id. */
  async schedules(): Promise<StoredSchedule[]> {
    const what = "HGETALL of the schedules";
    const states = list(
      await this.#ctx.topology.send(["HGETALL", this.#keys.states]),
      what,
    );
    const ids: string[] = [];
    const values: string[] = [];
    for (let i = 0; i + 1 < states.length; i += 2) {
      ids.push(text(states[i], what, i));
      values.push(text(states[i + 1], what, i + 1));
    }
    if (ids.length === 0) return [];
    const definitions = list(
      await this.#ctx.topology.send([
        "HMGET",
        this.#keys.definitions,
        ...ids,
      ]),
      "HMGET of the schedules",
    );
    return ids.flatMap((_, i) => this.#stored(values[i], definitions[i]) ?? [])
      .sort((a, b) =>
        a.definition.id < b.definition.id
          ? -1
          : a.definition.id > b.definition.id
          ? 1
          : 0
      );
  }

  /** The schedule of `id`, or undefined. */
  async schedule(id: string): Promise<StoredSchedule | undefined> {
    const what = "HGET of a schedule";
    const state = await this.#ctx.topology.send([
      "HGET",
      this.#keys.states,
      id,
    ]);
    if (state === null) return undefined;
    const definition = await this.#ctx.topology.send([
      "HGET",
      this.#keys.definitions,
      id,
    ]);
    return this.#stored(text(state, what), definition);
  }

  /** Deletes a schedule; true when there was one. */
  async removeSchedule(id: string): Promise<boolean> {
    return flag(
      await this.#run(REMOVE_SCHEDULE, this.#keys, { id }),
      REMOVE_SCHEDULE.file,
    );
  }

  /** Pauses or resumes; undefined when there is no such schedule. */
  async setSchedulePaused(
    id: string,
    paused: boolean,
  ): Promise<boolean | undefined> {
    const reply = number(
      await this.#run(PAUSE_SCHEDULE, { states: this.#keys.states }, {
        id,
        paused: paused ? "1" : "0",
        now: this.#ctx.now(),
      }),
      PAUSE_SCHEDULE.file,
    );
    return reply < 0 ? undefined : reply === 1;
  }

  /** Takes a run by compare-and-set; true when taken. */
  async takeScheduleRun(
    id: string,
    due: number,
    expected: { version: number; runs: number },
  ): Promise<boolean> {
    const reply = await this.#run(
      TAKE_SCHEDULE_RUN,
      { states: this.#keys.states },
      { id, due, version: expected.version, runs: expected.runs },
    );
    return flag(reply, TAKE_SCHEDULE_RUN.file);
  }

  /** A schedule from its state and encoded definition; undefined if unreadable. */
  #stored(
    state: string,
    definition: RedisReply | undefined,
  ): StoredSchedule | undefined {
    const parsed = parseState(state);
    const encoded = bytesOrNil(definition, "the schedule definitions");
    if (!parsed || !encoded) return undefined;
    try {
      return {
        definition: this.#ctx.codec.decode(encoded) as ScheduleDefinition,
        state: parsed,
      };
    } catch {
      return undefined; // Written by another codec: not readable here.
    }
  }

  #run(
    script: LuaScript,
    keys: Readonly<Record<string, string>>,
    args: ScriptNamed,
  ): Promise<RedisReply> {
    const call = scriptCall(script, keys, args);
    const argv = call.argv.map((arg) =>
      typeof arg === "number" ? String(arg) : arg
    );
    return this.#ctx.topology.runScript(script, call.keys, argv);
  }
}
