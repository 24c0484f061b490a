/**
 * Revoking a task in the embedded store, in one transaction: a queued task
 * ends REVOKED at once (it never runs); a running one is flagged, and its
 * worker stops it (told by a `control` message the store publishes, or by
 * the flag when it renews the lease).
 * @module
 */
import { revokedQueued } from "../_reasons.ts";
import type { RevokeOutcome } from "../store.ts";
import type { StoreContext } from "./context.ts";
import { decodeTask } from "./encoding.ts";
import { endRow } from "./row_transitions.ts";
import type { TaskRow } from "./statements.ts";

/**
 * Ends a queued task REVOKED, or flags a running one ("requested": the
 * caller tells its worker).
 */
export function revokeTask(ctx: StoreContext, id: string): RevokeOutcome {
  return ctx.transaction((): RevokeOutcome => {
    const row = ctx.sql.byId.get(id) as TaskRow | undefined;
    if (!row) return "unknown";
    if (row.state === "finished") return "finished";
    if (row.state === "running") {
      ctx.sql.requestRevoke.run(row.rowid);
      return "requested";
    }
    const now = ctx.now();
    endRow(
      ctx,
      row,
      decodeTask(ctx.codec, row.payload),
      now,
      revokedQueued(row.id),
    );
    return "revoked";
  });
}
