/**
 * Schedules managed at run time in the embedded store: one row a schedule
 * in table `schedules` (its definition encoded by the store's codec, its
 * run state in columns), each change one transaction.
 *
 * Invariants:
 * - A run is taken by a compare-and-set on the row's `version` and `runs`
 *   (and `last_due` below the due time, not paused): two callers cannot
 *   both take one, and a change (upsert, pause, resume) made since the
 *   caller read the row makes its take fail.
 * - The statements are prepared on first use: a store without schedules
 *   prepares none of them.
 * @module
 */
import type {
  ScheduleDefinition,
  StoredSchedule,
} from "../../model/schedule.ts";
import type { StoreContext } from "./context.ts";

interface ScheduleRow {
  id: string;
  definition: Uint8Array;
  version: number;
  runs: number;
  last_due: number | null;
  paused: number;
  since: number;
  created: number;
}

const COLUMNS =
  "id, definition, version, runs, last_due, paused, since, created";

/** A row as the store contract reads it; undefined when it cannot be read. */
function fromRow(
  ctx: StoreContext,
  row: ScheduleRow,
): StoredSchedule | undefined {
  let definition: ScheduleDefinition;
  try {
    definition = ctx.codec.decode(row.definition) as ScheduleDefinition;
  } catch {
    return undefined; // Written by another codec: not readable here.
  }
  return {
    definition,
    state: {
      version: row.version,
      runs: row.runs,
      ...(row.last_due !== null && { lastDue: row.last_due }),
      paused: row.paused === 1,
      since: row.since,
      created: row.created,
    },
  };
}

/** Stores a definition; true when it was created (see `ScheduleStore`). */
export function upsertScheduleRow(
  ctx: StoreContext,
  definition: ScheduleDefinition,
): boolean {
  const bytes = ctx.codec.encode(definition);
  return ctx.transaction(() => {
    const now = ctx.now();
    const updated = ctx.prepared(
      `UPDATE schedules SET definition = ?, version = version + 1, since = ?
       WHERE id = ?`,
    ).run(bytes, now, definition.id).changes;
    if (updated > 0) return false;
    ctx.prepared(
      `INSERT INTO schedules (${COLUMNS}) VALUES (?, ?, 1, 0, NULL, 0, ?, ?)`,
    ).run(definition.id, bytes, now, now);
    return true;
  });
}

/** Every schedule, sorted by id. */
export function readSchedules(ctx: StoreContext): StoredSchedule[] {
  const rows = ctx.prepared(`SELECT ${COLUMNS} FROM schedules ORDER BY id`)
    .all() as unknown[] as ScheduleRow[];
  return rows.flatMap((row) => fromRow(ctx, row) ?? []);
}

/** The schedule of `id`, or undefined. */
export function readSchedule(
  ctx: StoreContext,
  id: string,
): StoredSchedule | undefined {
  const row = ctx.prepared(`SELECT ${COLUMNS} FROM schedules WHERE id = ?`)
    .get(id) as ScheduleRow | undefined;
  return row ? fromRow(ctx, row) : undefined;
}

/** Deletes a schedule; true when there was one. */
export function deleteSchedule(ctx: StoreContext, id: string): boolean {
  return ctx.transaction(() =>
    ctx.prepared(`DELETE FROM schedules WHERE id = ?`).run(id).changes > 0
  );
}

/** Pauses or resumes a schedule (see `ScheduleStore.setSchedulePaused`). */
export function setSchedulePausedRow(
  ctx: StoreContext,
  id: string,
  paused: boolean,
): boolean | undefined {
  return ctx.transaction(() => {
    const row = ctx.prepared(`SELECT paused FROM schedules WHERE id = ?`)
      .get(id) as { paused: number } | undefined;
    if (!row) return undefined;
    if ((row.paused === 1) === paused) return false;
    ctx.prepared(
      `UPDATE schedules SET paused = ?, version = version + 1,
       since = CASE WHEN ? = 0 THEN ? ELSE since END WHERE id = ?`,
    ).run(paused ? 1 : 0, paused ? 1 : 0, ctx.now(), id);
    return true;
  });
}

/** Takes a run by compare-and-set (see `ScheduleStore.takeScheduleRun`). */
export function takeScheduleRunRow(
  ctx: StoreContext,
  id: string,
  due: number,
  expected: { version: number; runs: number },
): boolean {
  return ctx.transaction(() =>
    ctx.prepared(
      `UPDATE schedules SET runs = runs + 1, last_due = ?1
       WHERE id = ?2 AND version = ?3 AND runs = ?4 AND paused = 0
       AND (last_due IS NULL OR last_due < ?1)`,
    ).run(due, id, expected.version, expected.runs).changes > 0
  );
}
