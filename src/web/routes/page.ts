/**
 * The page and the files it loads: `GET /` (which opens a session, see
 * `auth.ts`) and `GET /assets/<file>`.
 *
 * Invariants: only the files of `assets.ts` are served (any other name is
 * a 404); the page is never cached, the files are checked again on each
 * use (`no-cache`), so a new version of the dashboard is loaded at once.
 * @module
 */
import { errorResponse } from "../auth.ts";
import { ASSETS, PAGE } from "../assets.ts";
import type { RouteContext } from "../route_context.ts";

/** `GET /`: the page. */
export function page(): Response {
  return new Response(PAGE.body, {
    headers: { "content-type": PAGE.type, "cache-control": "no-store" },
  });
}

/** `GET /assets/:file`: a module, a style sheet. */
export function asset({ params, url }: RouteContext): Response {
  const file = ASSETS.get(params.file ?? "");
  if (!file) return errorResponse(404, `No route ${url.pathname}`);
  return new Response(file.body, {
    headers: { "content-type": file.type, "cache-control": "no-cache" },
  });
}
