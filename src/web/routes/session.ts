/**
 * `GET /api/session`: what the page needs to act (its session's CSRF
 * token) and to say where it looks (the store's URL, its password masked:
 * `api.queues.storeUrl()`, never the setting).
 * @module
 */
import type { SessionView } from "../api_types.ts";
import type { RouteContext } from "../route_context.ts";
import { json } from "../responses.ts";

/** `GET /api/session`. */
export async function session(
  { api, auth, session }: RouteContext,
): Promise<Response> {
  const view: SessionView = {
    csrf: session?.csrf ?? null,
    store: await api.queues.storeUrl(),
    needsToken: auth.needsToken,
  };
  return json(view);
}
