import type {} from '@fastify/cookie';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import { HubError } from '@tshub/plugin-api';
import type { Database } from '../db/schema.js';
import { missingCredentials } from '../errors.js';
import { browserProtocol, LOGIN_COOKIE, secureCookie, XSRF_COOKIE } from './cookies.js';
import type { Identity, IdentityResolver } from './identity.js';
import { hashSecret, newSecret } from './secrets.js';
import type { TokenActivity } from './token-activity.js';
import type { UserRefresher } from './user-refresh.js';

const TOKEN_HEADER = /^(?:token|bearer)\s+(\S+)\s*$/i;

export interface RequestIdentity {
  identity: Identity;
  via: 'token' | 'cookie';
}

/**
 * Who a request is, from the `Authorization: token|bearer X` header (API and /hub/user only) or the
 * signed login cookie; plus sessions and xsrf tokens. Results are memoised per request.
 */
export class RequestAuth {
  readonly #memo = new WeakMap<FastifyRequest, RequestIdentity | null>();

  constructor(
    private readonly db: Kysely<Database>,
    private readonly identities: IdentityResolver,
    /** `httpsConfigured`: public_url or bind_url is https (cookies are Secure whatever the request); `publicOrigin`: public_url's origin or ''. */
    private readonly opts: { hubPrefix: string; cookieMaxAgeDays: number; httpsConfigured: boolean; publicOrigin: string; log: Logger },
    private readonly activity?: TokenActivity,
    private readonly refresher?: UserRefresher,
  ) {}

  /** Token first (when allowed), then the login cookie. */
  async identify(req: FastifyRequest, opts: { allowToken: boolean }): Promise<RequestIdentity | null> {
    if (this.#memo.has(req)) return this.#memo.get(req)!;
    let result: RequestIdentity | null = null;
    const header = req.headers.authorization;
    if (opts.allowToken && header) {
      const m = TOKEN_HEADER.exec(header);
      if (m) {
        const identity = await this.#refreshed(await this.identities.fromToken(m[1]!), () => this.identities.fromToken(m[1]!));
        result = identity ? { identity, via: 'token' } : null;
        if (identity) this.activity?.record(identity);
        this.#memo.set(req, result);
        return result;
      }
    }
    const session = this.sessionSecret(req);
    if (session) {
      const hash = hashSecret(session);
      const identity = await this.#refreshed(await this.identities.fromSession(hash), () => this.identities.fromSession(hash), hash);
      if (identity) result = { identity, via: 'cookie' };
    }
    this.#memo.set(req, result);
    return result;
  }

  /**
   * refresh_user on age (auth_refresh_age): a Map lookup unless due. A login the authenticator no
   * longer accepts counts as none (pages redirect to the login page, the API answers 403) and its
   * session is deleted; a changed model is re-resolved. A failing provider does not log anyone out.
   */
  async #refreshed(identity: Identity | null, reload: () => Promise<Identity | null>, sessionHash?: string): Promise<Identity | null> {
    const refresher = this.refresher;
    if (!identity || identity.kind !== 'user' || !refresher?.due(identity.userId)) return identity;
    let valid: boolean;
    try {
      valid = await refresher.refresh(identity.userId);
    } catch {
      // The refresher logged it; the provider may be down: keep the login and retry after the age.
      refresher.markFresh(identity.userId);
      return identity;
    }
    if (!valid) {
      if (sessionHash) {
        await this.db.deleteFrom('api_tokens').where('session_id', '=', sessionHash).execute();
        await this.db.deleteFrom('sessions').where('id', '=', sessionHash).execute();
      }
      this.identities.invalidate();
      return null;
    }
    return reload();
  }

  /** The session secret from the signed login cookie, if the signature checks out. */
  sessionSecret(req: FastifyRequest): string | null {
    const raw = req.cookies[LOGIN_COOKIE];
    if (!raw) return null;
    const u = req.unsignCookie(raw);
    return u.valid && u.value ? u.value : null;
  }

  /** Creates a login session in the database and sets the signed, HttpOnly cookie. */
  async startSession(reply: FastifyReply, userId: number): Promise<string> {
    const secret = newSecret();
    const id = hashSecret(secret);
    const expires = new Date(Date.now() + this.opts.cookieMaxAgeDays * 86_400_000);
    await this.db.insertInto('sessions').values({ id, user_id: userId, expires_at: expires }).execute();
    reply.setCookie(LOGIN_COOKIE, secret, {
      signed: true, httpOnly: true, sameSite: 'lax', secure: secureCookie(reply.request, this.opts.httpsConfigured), path: this.opts.hubPrefix, expires,
    });
    return id;
  }

  /** Logout: deletes the session and every OAuth token issued within it, clears the cookies. */
  async endSession(req: FastifyRequest, reply: FastifyReply): Promise<void> {
    const secret = this.sessionSecret(req);
    if (secret) {
      const id = hashSecret(secret);
      await this.db.deleteFrom('api_tokens').where('session_id', '=', id).execute();
      await this.db.deleteFrom('sessions').where('id', '=', id).execute();
      this.identities.invalidate();
    }
    reply.clearCookie(LOGIN_COOKIE, { path: this.opts.hubPrefix });
    reply.clearCookie(XSRF_COOKIE, { path: this.opts.hubPrefix });
    this.#memo.delete(req);
  }

  /** The request's xsrf token, setting the signed `_xsrf` cookie when it has none. */
  xsrfToken(req: FastifyRequest, reply: FastifyReply): string {
    const existing = this.#xsrfFromCookie(req);
    if (existing) return existing;
    const token = newSecret(18);
    const secure = secureCookie(req, this.opts.httpsConfigured);
    reply.setCookie(XSRF_COOKIE, token, { signed: true, httpOnly: true, sameSite: 'lax', secure, path: this.opts.hubPrefix });
    // Make it visible to the rest of this request (the page rendering it).
    (req.cookies as Record<string, string>)[XSRF_COOKIE] = reply.signCookie(token);
    return token;
  }

  #xsrfFromCookie(req: FastifyRequest): string | null {
    const raw = req.cookies[XSRF_COOKIE];
    if (!raw) return null;
    const u = req.unsignCookie(raw);
    return u.valid && u.value ? u.value : null;
  }

  /** Checks a form's or API call's xsrf value against the cookie; throws JupyterHub's 403s. */
  checkXsrf(req: FastifyRequest, provided: string | undefined, message?: string): void {
    const expected = this.#xsrfFromCookie(req);
    if (!provided) throw new HubError(403, message ?? `'_xsrf' argument missing from ${req.method}`);
    if (!expected || expected !== provided) throw new HubError(403, message ?? `XSRF cookie does not match ${req.method} argument`);
  }

  /**
   * The checks a cookie-authenticated API request must pass (token requests are exempt). First
   * JupyterHub's check_referer: unless it is a navigation (GET, Sec-Fetch-Mode navigate), the Referer
   * must be a hub page of this origin; otherwise the cookie does not count (403, as for no login).
   * Without it any page of the same origin, a user's server under /user/NAME/ included, could drive
   * the API as whoever visits it. Then JupyterHub 4.1+'s xsrf rules: HEAD/OPTIONS and read-only
   * navigations (Sec-Fetch-Mode navigate or absent, or no-cors) are exempt; everything else must send
   * X-XSRFToken (or X-CSRFToken, or an `_xsrf` parameter) matching the cookie.
   */
  checkApiXsrf(req: FastifyRequest, via: 'token' | 'cookie'): void {
    if (via === 'token') return;
    const method = req.method;
    const mode = req.headers['sec-fetch-mode'];
    if (!(method === 'GET' && mode === 'navigate') && !this.#fromHubPage(req)) throw missingCredentials();
    if (method === 'HEAD' || method === 'OPTIONS') return;
    if (method === 'GET' && (mode === undefined || mode === 'navigate' || mode === 'no-cors')) return;
    const header = req.headers['x-xsrftoken'] ?? req.headers['x-csrftoken'];
    const query = (req.query as Record<string, unknown> | undefined)?._xsrf;
    const provided = typeof header === 'string' ? header : typeof query === 'string' ? query : undefined;
    this.checkXsrf(req, provided);
  }

  /**
   * Whether the Referer is a page under the hub prefix with the scheme, host and port the browser
   * used: the request's Host, the forwarded host a trusted proxy gave, or public_url. Logs a refusal.
   */
  #fromHubPage(req: FastifyRequest): boolean {
    const referer = req.headers.referer;
    const host = req.headers.host?.split(',')[0]?.trim();
    const proto = browserProtocol(req);
    const origins = new Set([this.opts.publicOrigin, host && originOf(`${proto}://${host}`), req.host && originOf(`${proto}://${req.host}`)].filter(Boolean));
    const ref = referer ? parseUrl(referer) : null;
    if (ref && origins.has(ref.origin) && `${ref.pathname}/`.startsWith(this.opts.hubPrefix)) return true;
    // The path only: a query may carry the _xsrf token.
    const where = { method: req.method, path: req.url.split('?')[0], referer: referer?.slice(0, 200) ?? null, host: host ?? null, forwardedHost: req.host };
    this.opts.log.warn(
      where,
      referer
        ? 'refused a cookie-authenticated API request: its Referer is not a hub page of this origin (a user\'s server or another site)'
        : 'refused a cookie-authenticated API request without a Referer (scripts should use a token)',
    );
    return false;
  }
}

function parseUrl(text: string): URL | null {
  try {
    return new URL(text);
  } catch {
    return null;
  }
}

/** The normalised origin of an absolute URL (default ports dropped), or '' when it does not parse. */
const originOf = (url: string): string => parseUrl(url)?.origin ?? '';
