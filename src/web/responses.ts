/**
 * What the dashboard answers with: JSON that is never cached, the
 * response of a failure, and the security headers every response gets.
 *
 * Invariants: a failure says what went wrong as JSON (`{ error }`), with
 * the status of its kind (see {@linkcode failureResponse}); every response
 * forbids framing, sniffing and referrers, and lets the page load only its
 * own scripts, styles and connections.
 * @module
 */
import { TaskNotAvailable } from "../model/errors.ts";
import { errorResponse } from "./auth.ts";
import { BadRequest } from "./request_input.ts";

/** The page's headers: its own scripts only, no framing, no referrer. */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  "content-security-policy":
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "x-frame-options": "DENY",
};

/** A JSON response that is never cached. */
export function json(data: unknown, status = 200): Response {
  return Response.json(data, {
    status,
    headers: { "cache-control": "no-store" },
  });
}

/**
 * The response of a handler's failure: a {@linkcode BadRequest} with its
 * status, an unknown job 404, a bad argument the API refused (`TypeError`,
 * `RangeError`) 400, anything else 500.
 */
export function failureResponse(error: unknown): Response {
  if (error instanceof BadRequest) {
    return errorResponse(error.status, error.message);
  }
  if (error instanceof TaskNotAvailable) {
    return errorResponse(404, error.message);
  }
  if (error instanceof TypeError || error instanceof RangeError) {
    return errorResponse(400, error.message);
  }
  return errorResponse(500, `The dashboard failed: ${String(error)}`);
}

/** Adds the security headers to a response. */
export function secured(response: Response): Response {
  for (const [name, value] of Object.entries(SECURITY_HEADERS)) {
    response.headers.set(name, value);
  }
  return response;
}
