import { generateKeyPairSync } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Test } from 'tap';
import { CookieJar } from 'tough-cookie';

/**
 * A real OpenID provider (the `oidc-provider` npm package) on 127.0.0.1 with one confidential client
 * and accounts whose claims the test chooses. Its login page is a plain HTML form (login + password,
 * and a Cancel button that denies consent), so a browser-like client can sign in by posting it.
 */

export interface TestAccount {
  /** Stable subject id; also accepted as the login name. */
  sub: string;
  preferred_username?: string;
  email?: string;
  name?: string;
  groups?: string[];
  /** Password for the login form (default "secret"). */
  password?: string;
  /** Any other claims, released with the profile scope. */
  extra?: Record<string, unknown>;
}

export interface OidcTestProvider {
  issuer: string;
  clientId: string;
  clientSecret: string;
  /** Registers a redirect URI (and its /hub/login sibling for logout) for the test client. */
  allowRedirectUri(uri: string): void;
  /**
   * Signs in without a browser: follows `authorizeUrl`, posts the login form as `login` (or presses
   * Cancel when `deny`), and returns the URL the provider redirected back to (the callback, with
   * code and state, or error).
   */
  signIn(authorizeUrl: string, login: string, opts?: { deny?: boolean; password?: string }): Promise<URL>;
  /** Closes the listening socket (the provider is "down") until {@link start} opens it again on the same port. */
  stop(): Promise<void>;
  start(): Promise<void>;
  /** The accounts by sub: add, change or delete entries to change what the provider says. */
  accounts: Map<string, TestAccount>;
  /** Number of requests the provider served, by path (e.g. '/token'). */
  hits: Map<string, number>;
}

type AdapterPayload = Record<string, unknown> & { grantId?: string; uid?: string; userCode?: string };
type ProviderCtor = new (issuer: string, config: Record<string, unknown>) => {
  callback(): (req: http.IncomingMessage, res: http.ServerResponse) => void;
  interactionDetails(req: http.IncomingMessage, res: http.ServerResponse): Promise<{ uid: string; prompt: { name: string } }>;
  interactionFinished(req: http.IncomingMessage, res: http.ServerResponse, result: object, opts?: { mergeWithLastSubmission?: boolean }): Promise<void>;
  Grant: new (init: { accountId: string; clientId: string }) => { addOIDCScope(s: string): void; save(): Promise<string> };
};

const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** Starts the provider; it stops with the test. */
export async function startOidcTestProvider(t: Test, opts: { accounts: TestAccount[]; accessTokenTtl?: number }): Promise<OidcTestProvider> {
  const { Provider } = (await import('oidc-provider')) as unknown as { Provider: ProviderCtor };
  const clientId = 'tshub-test';
  const clientSecret = 'tshub-test-secret-0123456789abcdef';
  const redirectUris = new Set<string>();
  const logoutUris = new Set<string>();
  const accounts = new Map(opts.accounts.map((a) => [a.sub, a]));
  const byLogin = (login: string) => accounts.get(login) ?? [...accounts.values()].find((a) => a.preferred_username === login);

  // An in-memory adapter; the Client model answers from the mutable redirect URI set, so the hub's
  // callback URL can be registered after the hub has picked its port.
  const store = new Map<string, { payload: AdapterPayload; exp: number }>();
  class MemoryAdapter {
    constructor(readonly model: string) {}
    key = (id: string) => `${this.model}:${id}`;
    async upsert(id: string, payload: AdapterPayload, expiresIn?: number) {
      store.set(this.key(id), { payload, exp: expiresIn ? Date.now() + expiresIn * 1000 : Infinity });
    }
    async find(id: string) {
      if (this.model === 'Client') {
        if (id !== clientId) return undefined;
        return {
          client_id: clientId,
          client_secret: clientSecret,
          redirect_uris: [...redirectUris],
          post_logout_redirect_uris: [...logoutUris],
          grant_types: ['authorization_code', 'refresh_token'],
          response_types: ['code'],
        };
      }
      const hit = store.get(this.key(id));
      return hit && hit.exp > Date.now() ? hit.payload : undefined;
    }
    async findByUid(uid: string) {
      for (const [k, v] of store) if (k.startsWith(`${this.model}:`) && v.payload.uid === uid && v.exp > Date.now()) return v.payload;
      return undefined;
    }
    async findByUserCode() {
      return undefined;
    }
    async consume(id: string) {
      const hit = store.get(this.key(id));
      if (hit) hit.payload.consumed = Math.floor(Date.now() / 1000);
    }
    async destroy(id: string) {
      store.delete(this.key(id));
    }
    async revokeByGrantId(grantId: string) {
      for (const [k, v] of store) if (v.payload.grantId === grantId) store.delete(k);
    }
  }

  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const issuer = `http://127.0.0.1:${port}`;
  const jwk = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' });

  const provider = new Provider(issuer, {
    adapter: MemoryAdapter,
    jwks: { keys: [{ ...jwk, kid: 'test', use: 'sig', alg: 'RS256' }] },
    cookies: { keys: ['oidc-test-provider-cookie-key'] },
    scopes: ['openid', 'offline_access', 'profile', 'email', 'groups'],
    claims: { openid: ['sub'], profile: ['preferred_username', 'name', 'extra'], email: ['email', 'email_verified'], groups: ['groups'] },
    features: { devInteractions: { enabled: false } },
    interactions: { url: (_ctx: unknown, interaction: { uid: string }) => `/interaction/${interaction.uid}` },
    ttl: { AccessToken: opts.accessTokenTtl ?? 3600, AuthorizationCode: 60, IdToken: 3600, RefreshToken: 86400, Interaction: 600, Session: 3600, Grant: 86400 },
    issueRefreshToken: async () => true,
    // First-party client: consent is implied, so every login grants all requested scopes.
    loadExistingGrant: async (ctx: { oidc: { session: { accountId?: string }; client: { clientId: string }; provider: ProviderCtor['prototype'] } }) => {
      const accountId = ctx.oidc.session.accountId;
      if (!accountId) return undefined;
      const grant = new ctx.oidc.provider.Grant({ accountId, clientId: ctx.oidc.client.clientId });
      grant.addOIDCScope('openid offline_access profile email groups');
      await grant.save();
      return grant;
    },
    findAccount: async (_ctx: unknown, sub: string) => {
      const a = accounts.get(sub);
      if (!a) return undefined;
      return {
        accountId: sub,
        claims: async () => ({
          sub,
          ...(a.preferred_username !== undefined ? { preferred_username: a.preferred_username } : {}),
          ...(a.name !== undefined ? { name: a.name } : {}),
          ...(a.email !== undefined ? { email: a.email, email_verified: true } : {}),
          ...(a.groups !== undefined ? { groups: a.groups } : {}),
          ...a.extra,
        }),
      };
    },
  });
  const oidcHandler = provider.callback();
  const hits = new Map<string, number>();

  server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
    const url = new URL(req.url ?? '/', issuer);
    hits.set(url.pathname, (hits.get(url.pathname) ?? 0) + 1);
    const m = /^\/interaction\/([^/]+)(?:\/(login|abort))?$/.exec(url.pathname);
    if (!m) return oidcHandler(req, res);
    void interaction(req, res, m[1]!, m[2]).catch((err: Error) => {
      res.statusCode = 400;
      res.end(`interaction failed: ${err.message}`);
    });
  });

  async function readForm(req: http.IncomingMessage): Promise<URLSearchParams> {
    let body = '';
    for await (const chunk of req) body += String(chunk);
    return new URLSearchParams(body);
  }

  function loginPage(res: http.ServerResponse, uid: string, error = '') {
    res.setHeader('content-type', 'text/html; charset=utf-8');
    res.end(`<!doctype html><title>Test IdP sign-in</title>${error ? `<p class="error">${esc(error)}</p>` : ''}
<form method="post" action="/interaction/${esc(uid)}/login"><input name="login"><input name="password" type="password"><button>Sign in</button></form>
<form method="post" action="/interaction/${esc(uid)}/abort"><button>Cancel</button></form>`);
  }

  async function interaction(req: http.IncomingMessage, res: http.ServerResponse, uid: string, action: string | undefined) {
    const details = await provider.interactionDetails(req, res);
    if (action === undefined) return loginPage(res, details.uid);
    if (action === 'abort') {
      return provider.interactionFinished(req, res, { error: 'access_denied', error_description: 'End-User aborted interaction' }, { mergeWithLastSubmission: false });
    }
    const form = await readForm(req);
    const account = byLogin(form.get('login') ?? '');
    if (!account || (account.password ?? 'secret') !== form.get('password')) return loginPage(res, uid, 'Unknown login or wrong password.');
    return provider.interactionFinished(req, res, { login: { accountId: account.sub } }, { mergeWithLastSubmission: false });
  }

  const sockets = new Set<import('node:net').Socket>();
  server.on('connection', (s) => (sockets.add(s), s.on('close', () => sockets.delete(s))));
  const stop = () =>
    new Promise<void>((resolve) => {
      if (!server.listening) return resolve();
      server.close(() => resolve());
      for (const s of sockets) s.destroy();
    });
  t.teardown(stop);

  async function signIn(authorizeUrl: string, login: string, o: { deny?: boolean; password?: string } = {}): Promise<URL> {
    const jar = new CookieJar();
    const go = async (url: string, init: RequestInit = {}) => {
      const headers = new Headers(init.headers);
      const cookie = await jar.getCookieString(url);
      if (cookie) headers.set('cookie', cookie);
      const res = await fetch(url, { ...init, headers, redirect: 'manual' });
      for (const c of res.headers.getSetCookie()) await jar.setCookie(c, url, { ignoreError: true });
      return res;
    };
    let url = authorizeUrl;
    for (let hop = 0; hop < 10; hop++) {
      if (!url.startsWith(issuer)) return new URL(url);
      const res = await go(url);
      const loc = res.headers.get('location');
      if (loc) {
        url = new URL(loc, url).href;
        continue;
      }
      const html = await res.text();
      const uid = /action="\/interaction\/([^/]+)\/login"/.exec(html)?.[1];
      if (!uid) throw new Error(`no login form at ${url} (HTTP ${res.status}): ${html.slice(0, 300)}`);
      const body = o.deny ? new URLSearchParams() : new URLSearchParams({ login, password: o.password ?? 'secret' });
      const posted = await go(`${issuer}/interaction/${uid}/${o.deny ? 'abort' : 'login'}`, {
        method: 'POST',
        body,
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
      });
      const next = posted.headers.get('location');
      if (!next) throw new Error(`login form refused (HTTP ${posted.status}): ${(await posted.text()).slice(0, 300)}`);
      url = new URL(next, url).href;
    }
    throw new Error('too many redirects at the test provider');
  }

  return {
    issuer,
    clientId,
    clientSecret,
    hits,
    accounts,
    allowRedirectUri(uri: string) {
      redirectUris.add(uri);
      logoutUris.add(new URL('login', new URL('.', uri)).href);
    },
    signIn,
    stop,
    start: () => new Promise<void>((resolve) => (server.listening ? resolve() : server.listen(port, '127.0.0.1', resolve))),
  };
}
