import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Test } from 'tap';

/**
 * A small HTTP fake of GitHub's OAuth app flow and the REST endpoints an authenticator uses, answering
 * as GitHub documents them (docs.github.com "Authorizing OAuth apps", "Organization members", "Teams"):
 * - GET  /login/oauth/authorize: the browser is "signed in" as {@link FakeGithub.signedIn} and has
 *   authorized the app before, so it redirects straight back with code+state (or error=access_denied).
 * - POST /login/oauth/access_token: JSON or form-encoded by Accept; refusals are HTTP 200 with an
 *   `error` body, as GitHub does. PKCE (S256) is checked when the authorize request carried a challenge.
 * - GET /user, /user/orgs, /user/teams (paginated, Link header), /orgs/{org}/members/{user} (204, 302
 *   for a requester outside the org, 404), /orgs/{org}/teams/{slug}/memberships/{user} (200 or 404).
 * - GET /user/emails ("Emails" docs): every address as {email, primary, verified, visibility}, for a
 *   token with the user:email or user scope (404 otherwise, as GitHub hides what a token may not see).
 *   /user shows `email` only when the user made one public.
 * The API answers both at the root (like api.github.com) and under /api/v3 (GitHub Enterprise Server).
 * Private memberships need the read:org scope, as on GitHub.
 */

export interface FakeGithubUser {
  login: string;
  id: number;
  name?: string;
  /** The public e-mail, shown by /user (null there when unset: the user keeps it private). */
  email?: string;
  /** Every address, as /user/emails lists them; default: the public one, primary and verified. */
  emails?: FakeGithubEmail[];
  /** Organisations the user belongs to. */
  orgs?: string[];
  /** Teams as `org:slug`. */
  teams?: string[];
}

export interface FakeGithubEmail {
  email: string;
  primary: boolean;
  verified: boolean;
  visibility: 'public' | 'private' | null;
}

export interface FakeGithub {
  /** http://127.0.0.1:port, used as github_url (Enterprise layout: API under /api/v3). */
  url: string;
  clientId: string;
  clientSecret: string;
  /** Who the browser is signed in to GitHub as; authorize answers for this user. */
  signedIn: string;
  /** When true, authorize answers error=access_denied (the user pressed Cancel). */
  deny: boolean;
  /** When set, /user/emails answers this HTTP status with an error body, or drops the connection ('reset'). */
  failEmails: number | 'reset' | null;
  /** "METHOD path" of every request, in order. */
  requests: string[];
  /** Scopes granted with each issued token, newest last. */
  grantedScopes: string[][];
  stop(): Promise<void>;
  start(): Promise<void>;
}

type Code = { login: string; redirectUri: string; scope: string[]; challenge: string | null };

export async function startFakeGithub(t: Test, users: FakeGithubUser[], opts: { teamsPageSize?: number } = {}): Promise<FakeGithub> {
  const byLogin = (login: string) => users.find((u) => u.login.toLowerCase() === login.toLowerCase());
  const codes = new Map<string, Code>();
  const tokens = new Map<string, { login: string; scope: string[] }>();
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const fake: FakeGithub = {
    url: `http://127.0.0.1:${port}`,
    clientId: 'Iv1.fakegithubclient',
    clientSecret: 'fake-github-secret',
    signedIn: users[0]?.login ?? '',
    deny: false,
    failEmails: null,
    requests: [],
    grantedScopes: [],
    stop: async () => {},
    start: async () => {},
  };

  const json = (res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers });
    res.end(JSON.stringify(body));
  };
  const notFound = (res: http.ServerResponse) => json(res, 404, { message: 'Not Found', documentation_url: 'https://docs.github.com/rest' });

  function authorize(url: URL, res: http.ServerResponse) {
    const redirect = new URL(url.searchParams.get('redirect_uri') ?? '');
    const state = url.searchParams.get('state');
    if (url.searchParams.get('client_id') !== fake.clientId) return json(res, 404, { message: 'unknown client_id' });
    if (fake.deny) {
      redirect.searchParams.set('error', 'access_denied');
      redirect.searchParams.set('error_description', 'The user has denied your application access.');
    } else {
      const code = randomBytes(10).toString('hex');
      const method = url.searchParams.get('code_challenge_method');
      codes.set(code, {
        login: fake.signedIn,
        redirectUri: redirect.href,
        scope: (url.searchParams.get('scope') ?? '').split(/[ ,]+/).filter(Boolean),
        challenge: method === 'S256' ? url.searchParams.get('code_challenge') : null,
      });
      redirect.searchParams.set('code', code);
    }
    if (state !== null) redirect.searchParams.set('state', state);
    res.writeHead(302, { location: redirect.href });
    res.end();
  }

  function accessToken(req: http.IncomingMessage, body: URLSearchParams, res: http.ServerResponse) {
    const answer = (obj: Record<string, string>) => {
      // GitHub answers 200 for refusals too; the body says what went wrong.
      if ((req.headers.accept ?? '').includes('application/json')) return json(res, 200, obj);
      res.writeHead(200, { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' });
      res.end(new URLSearchParams(obj).toString());
    };
    const basic = /^Basic (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    const [id, secret] = basic ? Buffer.from(basic, 'base64').toString().split(':').map(decodeURIComponent) : [body.get('client_id'), body.get('client_secret')];
    if (id !== fake.clientId || secret !== fake.clientSecret) {
      return answer({ error: 'incorrect_client_credentials', error_description: 'The client_id and/or client_secret passed are incorrect.' });
    }
    const code = codes.get(body.get('code') ?? '');
    codes.delete(body.get('code') ?? '');
    const bad = { error: 'bad_verification_code', error_description: 'The code passed is incorrect or expired.' };
    if (!code) return answer(bad);
    if (body.get('redirect_uri') !== null && body.get('redirect_uri') !== code.redirectUri) {
      return answer({ error: 'redirect_uri_mismatch', error_description: 'The redirect_uri MUST match the registered callback URL for this application.' });
    }
    if (code.challenge !== null) {
      const verifier = body.get('code_verifier') ?? '';
      if (createHash('sha256').update(verifier).digest('base64url') !== code.challenge) return answer(bad);
    }
    const token = `gho_${randomBytes(16).toString('hex')}`;
    tokens.set(token, { login: code.login, scope: code.scope });
    fake.grantedScopes.push(code.scope);
    return answer({ access_token: token, scope: code.scope.join(','), token_type: 'bearer' });
  }

  function api(req: http.IncomingMessage, path: string, url: URL, res: http.ServerResponse) {
    const auth = /^(?:token|bearer) (\S+)$/i.exec(req.headers.authorization ?? '')?.[1];
    const tok = auth ? tokens.get(auth) : undefined;
    if (!tok) return json(res, 401, { message: 'Requires authentication', documentation_url: 'https://docs.github.com/rest' });
    const me = byLogin(tok.login)!;
    const readOrg = tok.scope.includes('read:org') || tok.scope.includes('admin:org');
    res.setHeader('x-oauth-scopes', tok.scope.join(', '));
    if (path === '/user') return json(res, 200, { login: me.login, id: me.id, name: me.name ?? null, email: me.email ?? null, type: 'User', site_admin: false });
    if (path === '/user/emails') {
      if (!tok.scope.includes('user:email') && !tok.scope.includes('user')) return notFound(res);
      if (fake.failEmails === 'reset') return req.socket.destroy();
      if (fake.failEmails !== null) return json(res, fake.failEmails, { message: 'Server Error' });
      const emails = me.emails ?? (me.email ? [{ email: me.email, primary: true, verified: true, visibility: 'public' }] : []);
      return json(res, 200, emails);
    }
    if (path === '/user/orgs') return json(res, 200, readOrg ? (me.orgs ?? []).map((o, i) => ({ login: o, id: 1000 + i })) : []);
    if (path === '/user/teams') {
      if (!readOrg) return json(res, 403, { message: 'Resource not accessible by integration' });
      const all = (me.teams ?? []).map((ot, i) => {
        const [org, slug] = ot.split(':') as [string, string];
        return { id: 2000 + i, slug, name: slug, organization: { login: org, id: 1000 } };
      });
      const size = Math.min(Number(url.searchParams.get('per_page') ?? 30), opts.teamsPageSize ?? 100);
      const page = Number(url.searchParams.get('page') ?? 1);
      const slice = all.slice((page - 1) * size, page * size);
      const headers: Record<string, string> = {};
      if (page * size < all.length) {
        const next = new URL(url.href);
        next.searchParams.set('page', String(page + 1));
        next.searchParams.set('per_page', String(size));
        headers.link = `<${next.href}>; rel="next"`;
      }
      return json(res, 200, slice, headers);
    }
    let m = /^\/orgs\/([^/]+)\/members\/([^/]+)$/.exec(path);
    if (m) {
      const [org, login] = [decodeURIComponent(m[1]!).toLowerCase(), decodeURIComponent(m[2]!)];
      const inOrg = (u: FakeGithubUser | undefined) => (u?.orgs ?? []).some((o) => o.toLowerCase() === org);
      // A requester outside the org (or without read:org) is sent to the public member list.
      if (!inOrg(me) || !readOrg) {
        res.writeHead(302, { location: `${fake.url}/orgs/${m[1]}/public_members/${m[2]}` });
        return res.end();
      }
      if (!inOrg(byLogin(login))) return notFound(res);
      res.writeHead(204);
      return res.end();
    }
    m = /^\/orgs\/([^/]+)\/teams\/([^/]+)\/memberships\/([^/]+)$/.exec(path);
    if (m) {
      const team = `${decodeURIComponent(m[1]!)}:${decodeURIComponent(m[2]!)}`.toLowerCase();
      const user = byLogin(decodeURIComponent(m[3]!));
      if (!readOrg || !user || !(user.teams ?? []).some((x) => x.toLowerCase() === team)) return notFound(res);
      return json(res, 200, { state: 'active', role: 'member', url: `${fake.url}${req.url}` });
    }
    return notFound(res);
  }

  server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
    const url = new URL(req.url ?? '/', fake.url);
    fake.requests.push(`${req.method} ${url.pathname}`);
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      if (req.method === 'GET' && url.pathname === '/login/oauth/authorize') return authorize(url, res);
      if (req.method === 'POST' && url.pathname === '/login/oauth/access_token') return accessToken(req, new URLSearchParams(body), res);
      if (req.method === 'GET') return api(req, url.pathname.replace(/^\/api\/v3(?=\/)/, ''), url, res);
      return notFound(res);
    });
  });

  const sockets = new Set<Socket>();
  server.on('connection', (s) => (sockets.add(s), s.on('close', () => sockets.delete(s))));
  fake.stop = () =>
    new Promise<void>((resolve) => {
      if (!server.listening) return resolve();
      server.close(() => resolve());
      for (const s of sockets) s.destroy();
    });
  fake.start = () => new Promise<void>((resolve) => (server.listening ? resolve() : server.listen(port, '127.0.0.1', resolve)));
  t.teardown(fake.stop);
  return fake;
}
