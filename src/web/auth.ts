/**
 * Who may use the dashboard, and which requests are actions a page of it
 * really sent: the token, the session cookie, the Host, Origin and CSRF
 * checks.
 *
 * Invariants:
 * - With a token, every request must carry it: `?token=` once (which opens
 *   a session: an HttpOnly, SameSite=Strict cookie, then a redirect that
 *   drops the token from the address), the session's cookie, or an
 *   `Authorization: Bearer <token>` header. Tokens are compared in constant
 *   time.
 * - On a loopback address the Host header must name a loopback host, so a
 *   page of another site cannot reach the dashboard by DNS rebinding.
 * - An action (POST) needs a session, an Origin header equal to the
 *   dashboard's own origin, and the session's CSRF token in the
 *   `x-csrf-token` header.
 * - Sessions live in memory: at most {@linkcode MAX_SESSIONS}, each for
 *   {@linkcode SESSION_SECONDS}; a restart of the dashboard ends them.
 * @module
 */
import { createHash, timingSafeEqual } from "node:crypto";
import { parseCookie, stringifySetCookie } from "cookie";

/** The most sessions kept; the oldest goes first. */
export const MAX_SESSIONS = 1000;
/** How long a session lasts, in seconds. */
export const SESSION_SECONDS = 12 * 3600;
/** The header that carries the CSRF token of an action. */
export const CSRF_HEADER = "x-csrf-token";

/** A browser's session. */
export interface Session {
  /** Its id (the cookie's value). */
  id: string;
  /** The token every action of the session must carry. */
  csrf: string;
  /** When it ends (ms since the epoch). */
  expires: number;
}

/** The outcome of {@linkcode DashboardAuth.check}. */
export type AuthResult =
  /** Let it through; `session` is absent for a Bearer request. */
  | { ok: true; session?: Session; setCookie?: string }
  /** Refuse it, or redirect it (after `?token=`). */
  | { ok: false; response: Response };

/** What {@linkcode DashboardAuth} is made with. */
export interface AuthOptions {
  /** The token; none means no token is asked for (loopback only). */
  token?: string;
  /** The address the dashboard listens on. */
  hostname: string;
  /** Its port (sessions of two dashboards on one host stay apart). */
  port: number;
}

/** True for a loopback host name or address. */
export function isLoopback(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, "").toLowerCase();
  return host === "localhost" || host === "::1" ||
    /^127(\.\d{1,3}){3}$/.test(host);
}

/** Compares two secrets in constant time (of their SHA-256 digests). */
function sameSecret(a: string, b: string): boolean {
  const digest = (s: string) => createHash("sha256").update(s).digest();
  return timingSafeEqual(digest(a), digest(b));
}

/** A new random secret: 48 hex digits (192 random bits). */
function secret(): string {
  return crypto.randomUUID().replaceAll("-", "") +
    crypto.randomUUID().replaceAll("-", "").slice(0, 16);
}

/** A JSON error response. */
export function errorResponse(status: number, message: string): Response {
  return Response.json({ error: message }, {
    status,
    headers: { "cache-control": "no-store" },
  });
}

/**
 * The dashboard's checks: token, session, Host, Origin and CSRF.
 *
 * @example
 * ```ts
 * import { DashboardAuth } from "./auth.ts";
 * const auth = new DashboardAuth({ token: "s3cret", hostname: "0.0.0.0", port: 8787 });
 * const result = auth.check(new Request("http://host:8787/api/overview"));
 * console.log(result.ok); // false: no token
 * ```
 */
export class DashboardAuth {
  readonly #token?: string;
  readonly #loopback: boolean;
  readonly #cookie: string;
  readonly #sessions = new Map<string, Session>();

  /** @throws {TypeError} for an empty token. */
  constructor(options: AuthOptions) {
    if (options.token !== undefined && options.token.length === 0) {
      throw new TypeError("The dashboard token must not be empty");
    }
    this.#token = options.token;
    this.#loopback = isLoopback(options.hostname);
    this.#cookie = `pq_session_${options.port}`;
  }

  /** True when requests must carry the token. */
  get needsToken(): boolean {
    return this.#token !== undefined;
  }

  /**
   * Checks a request's Host and credentials. A session is opened for a
   * browser that brings the token in `?token=`, or, without a token, for
   * one that loads the page (`openSession`) without a session.
   */
  check(request: Request, openSession = false): AuthResult {
    const url = new URL(request.url);
    if (this.#loopback && !isLoopback(url.hostname)) {
      return {
        ok: false,
        response: errorResponse(
          403,
          `Host '${url.host}' is not this dashboard's: open it on 127.0.0.1 or localhost`,
        ),
      };
    }
    const session = this.#session(request);
    const token = this.#token;
    if (token === undefined) {
      if (session || !openSession) return { ok: true, session };
      const opened = this.#open();
      return { ok: true, session: opened, setCookie: this.#setCookie(opened) };
    }
    const given = url.searchParams.get("token");
    if (given !== null) {
      if (!sameSecret(given, token)) {
        return { ok: false, response: errorResponse(401, "Wrong token") };
      }
      const opened = this.#open();
      url.searchParams.delete("token");
      return {
        ok: false,
        response: new Response(null, {
          status: 303,
          headers: {
            location: url.pathname + url.search,
            "set-cookie": this.#setCookie(opened),
            "cache-control": "no-store",
          },
        }),
      };
    }
    const bearer = request.headers.get("authorization")?.match(
      /^Bearer\s+(.+)$/i,
    )?.[1];
    if (bearer !== undefined) {
      return sameSecret(bearer.trim(), token)
        ? { ok: true }
        : { ok: false, response: errorResponse(401, "Wrong token") };
    }
    if (session) return { ok: true, session };
    return {
      ok: false,
      response: errorResponse(
        401,
        "This dashboard needs its token: open it once with ?token=<token>, or send Authorization: Bearer <token>",
      ),
    };
  }

  /**
   * Checks that a request is an action of one of the dashboard's own pages:
   * a session, the same Origin, the session's CSRF token. Resolves with a
   * refusal, or undefined when it may go on.
   */
  checkAction(request: Request, session?: Session): Response | undefined {
    if (!session) {
      return errorResponse(
        403,
        "Actions need a session of the dashboard's page (and its CSRF token)",
      );
    }
    const own = new URL(request.url).origin;
    const origin = request.headers.get("origin");
    if (origin !== own) {
      return errorResponse(
        403,
        `Actions must come from the dashboard's own page: Origin ${
          origin === null ? "missing" : `'${origin}'`
        } is not '${own}'`,
      );
    }
    const csrf = request.headers.get(CSRF_HEADER);
    if (csrf === null || !sameSecret(csrf, session.csrf)) {
      return errorResponse(
        403,
        `Actions need the session's CSRF token in the ${CSRF_HEADER} header`,
      );
    }
    return undefined;
  }

  #session(request: Request): Session | undefined {
    const id = parseCookie(request.headers.get("cookie") ?? "")[this.#cookie];
    const session = id ? this.#sessions.get(id) : undefined;
    if (session && session.expires > Date.now()) return session;
    if (session) this.#sessions.delete(session.id);
    return undefined;
  }

  #open(): Session {
    const session: Session = {
      id: secret(),
      csrf: secret(),
      expires: Date.now() + SESSION_SECONDS * 1000,
    };
    this.#sessions.set(session.id, session);
    for (const [id] of this.#sessions) {
      if (this.#sessions.size <= MAX_SESSIONS) break;
      this.#sessions.delete(id);
    }
    return session;
  }

  #setCookie(session: Session): string {
    return stringifySetCookie({
      name: this.#cookie,
      value: session.id,
      path: "/",
      httpOnly: true,
      sameSite: "strict",
      maxAge: SESSION_SECONDS,
    });
  }
}
