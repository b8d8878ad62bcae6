import { timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { hashSecret, newSecret } from '../auth/secrets.js';
import { hasScope, intersectScopes } from '../auth/scopes.js';
import { insertToken } from '../db/tokens.js';
import type { ApiEnv } from '../api/api-env.js';
import type { PageRenderer } from '../pages/page-renderer.js';

const CODE_TTL_MS = 300_000;

const AUTHORIZE_KEYS = ['client_id', 'redirect_uri', 'response_type', 'state', 'scope'] as const;
type AuthorizeQuery = { [K in (typeof AUTHORIZE_KEYS)[number]]?: string };

/** The authorize request's parameters, as hidden fields of the confirmation form. */
function authorizeFields(q: AuthorizeQuery): Array<{ name: string; value: string }> {
  return AUTHORIZE_KEYS.filter((k) => typeof q[k] === 'string').map((k) => ({ name: k, value: q[k]! }));
}

/**
 * The OAuth2 provider that single-user servers and services log visitors in through:
 * `/hub/api/oauth2/authorize` (code grant, cookie-authenticated; services and other users' servers
 * may show a confirmation page whose form POSTs back here) and `/hub/api/oauth2/token`.
 */
export async function oauthRoutes(app: FastifyInstance, env: ApiEnv & { pages: PageRenderer }): Promise<void> {
  const { hub, auth, pages } = env;
  const { db } = hub;

  /**
   * The authorize step for GET (which may show the confirmation page) and for the confirmation
   * form's POST (`confirmed`): validate the client, check the visitor's access, issue the code.
   */
  const authorize = async (req: FastifyRequest, reply: FastifyReply, q: AuthorizeQuery, confirmed: boolean) => {
    const who = await auth.identify(req, { allowToken: false });
    if (!who) {
      const again = `${hub.urls.hubPrefix}api/oauth2/authorize?${new URLSearchParams(authorizeFields(q).map((f): [string, string] => [f.name, f.value])).toString()}`;
      return reply.redirect(`${hub.urls.hubPrefix}login?next=${encodeURIComponent(confirmed ? again : req.url)}`);
    }
    const client = q.client_id ? await db.selectFrom('oauth_clients').selectAll().where('identifier', '=', String(q.client_id)).executeTakeFirst() : undefined;
    if (!client) return pages.error(req, reply, 400, 'Invalid OAuth client: it may have been removed because its server stopped. Go back and try again.');
    if (q.redirect_uri !== undefined && q.redirect_uri !== client.redirect_uri) {
      // Never redirect anywhere but the registered URI.
      return pages.error(req, reply, 400, 'The OAuth redirect_uri does not match the one registered for this client.');
    }
    const target = client.redirect_uri;
    const back = (params: Record<string, string>) => {
      const url = new URL(target, 'http://placeholder');
      for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
      if (q.state !== undefined) url.searchParams.set('state', String(q.state));
      return reply.redirect(/^https?:\/\//.test(target) ? url.href : url.pathname + url.search);
    };
    if (q.response_type !== 'code') return back({ error: 'unsupported_response_type' });
    const access = client.allowed_scopes.filter((s) => s.startsWith('access:'));
    const service = client.service_name
      ? await db.selectFrom('services').select(['name', 'oauth_no_confirm']).where('name', '=', client.service_name).executeTakeFirst()
      : undefined;
    if (client.service_name && !service) return pages.error(req, reply, 400, 'Invalid OAuth client: its service no longer exists.');
    const allowed = service
      ? hasScope(who.identity.scopeSet, 'access:services', { service: service.name })
      : access.some((s) => {
          const filter = s.split('!')[1] ?? '';
          const server = filter.startsWith('server=') ? filter.slice(7) : undefined;
          return hasScope(who.identity.scopeSet, s.split('!')[0]!, { server, user: server?.split('/')[0] });
        });
    if (!allowed) {
      const what = service ? `the service ${service.name}` : client.description || client.identifier;
      return pages.error(req, reply, 403, `You do not have permission to access ${what}. If you think you should, ask the owner or an administrator.`);
    }
    const scopes = [...intersectScopes(client.allowed_scopes, who.identity.scopeSet)];
    // access:servers!server=u/s is held through access:servers!user=u; keep the exact filter.
    for (const s of access) if (!scopes.includes(s)) scopes.push(s);
    // JupyterHub's needs_oauth_confirm: a service asks unless it is oauth_no_confirm; a server asks
    // unless it is the visitor's own (an admin or a share recipient opening someone else's server
    // hands that owner's code a token of theirs); nobody is asked twice for the same scopes.
    const owner = client.spawner_id === null ? undefined : await serverOwner(client.spawner_id);
    const trusted = service ? service.oauth_no_confirm : owner?.userId === who.identity.userId;
    if (!confirmed && !trusted && !(await alreadyAuthorized(who.identity.userId, client.identifier, scopes))) {
      // A consent page must never be framed (clickjacking); its styles are inline.
      reply.header('Content-Security-Policy', "frame-ancestors 'none'; default-src 'none'; style-src 'unsafe-inline'; img-src data:");
      reply.header('X-Frame-Options', 'DENY');
      return pages.page(req, reply, 'oauth.html', {
        ...(service ? { service_name: service.name } : owner ? { server_owner: owner.user, server_label: `${owner.user}/${owner.server}` } : { service_name: client.description || client.identifier }),
        client_description: client.description,
        scope_descriptions: scopes.filter((s) => !s.startsWith('access:')).sort(),
        fields: authorizeFields(q),
      });
    }
    const code = newSecret();
    await db.insertInto('oauth_codes').values({
      code_hash: hashSecret(code), client_id: client.identifier, user_id: who.identity.userId, redirect_uri: client.redirect_uri,
      scopes: JSON.stringify(scopes), session_id: who.identity.sessionId, expires_at: new Date(Date.now() + CODE_TTL_MS),
    }).execute();
    return back({ code });
  };

  /** Who owns the server an OAuth client belongs to. */
  const serverOwner = (spawnerId: number) =>
    db
      .selectFrom('spawners')
      .innerJoin('users', 'users.id', 'spawners.user_id')
      .select(['users.id as userId', 'users.name as user', 'spawners.name as server'])
      .where('spawners.id', '=', spawnerId)
      .executeTakeFirst();

  /** Whether the user holds a live OAuth token from this client with at least these scopes. */
  const alreadyAuthorized = async (userId: number, clientId: string, scopes: readonly string[]) => {
    const rows = await db
      .selectFrom('api_tokens')
      .select('scopes')
      .where('user_id', '=', userId)
      .where('client_id', '=', clientId)
      .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', new Date())]))
      .execute();
    return rows.some((r) => scopes.every((s) => r.scopes.includes(s)));
  };

  app.get<{ Querystring: AuthorizeQuery }>('/oauth2/authorize', async (req, reply) => authorize(req, reply, req.query, false));

  // The confirmation page's form: the original request's parameters plus `_xsrf`.
  app.post('/oauth2/authorize', async (req, reply) => {
    const body = (req.body && typeof req.body === 'object' ? req.body : {}) as Record<string, unknown>;
    const str = (k: string) => (typeof body[k] === 'string' ? (body[k] as string) : undefined);
    auth.checkXsrf(req, str('_xsrf'));
    const q: AuthorizeQuery = {};
    for (const k of AUTHORIZE_KEYS) {
      const v = str(k);
      if (v !== undefined) q[k] = v;
    }
    return authorize(req, reply, q, true);
  });

  app.post('/oauth2/token', async (req, reply) => {
    reply.header('Cache-Control', 'no-store');
    const body = (req.body && typeof req.body === 'object' ? req.body : {}) as Record<string, unknown>;
    const field = (k: string) => (typeof body[k] === 'string' ? (body[k] as string) : undefined);
    let clientId = field('client_id');
    let secret = field('client_secret');
    const basic = /^basic\s+(\S+)$/i.exec(req.headers.authorization ?? '');
    if (basic) {
      const decoded = Buffer.from(basic[1]!, 'base64').toString();
      const colon = decoded.indexOf(':');
      const unescape = (s: string) => {
        try {
          return decodeURIComponent(s);
        } catch {
          return s;
        }
      };
      if (colon > 0) {
        clientId ??= unescape(decoded.slice(0, colon));
        secret ??= unescape(decoded.slice(colon + 1));
      }
    }
    const fail = (status: number, error: string, description: string) => reply.code(status).send({ error, error_description: description });
    if (field('grant_type') !== 'authorization_code') return fail(400, 'unsupported_grant_type', 'only authorization_code is supported');
    if (!clientId || !secret) return fail(401, 'invalid_client', 'client credentials missing');
    const client = await db.selectFrom('oauth_clients').selectAll().where('identifier', '=', clientId).executeTakeFirst();
    if (!client || !sameHash(client.secret_hash, hashSecret(secret))) return fail(401, 'invalid_client', 'unknown client or wrong secret');
    const code = field('code');
    if (!code) return fail(400, 'invalid_request', 'code missing');
    const row = await db.deleteFrom('oauth_codes').where('code_hash', '=', hashSecret(code)).returningAll().executeTakeFirst();
    if (!row || row.client_id !== clientId || row.expires_at.getTime() < Date.now()) return fail(400, 'invalid_grant', 'the code is invalid or expired');
    const redirect = field('redirect_uri');
    if (redirect !== undefined && redirect !== row.redirect_uri) return fail(400, 'invalid_grant', 'redirect_uri does not match');
    const lifetime = hub.config.hub.oauth_token_expires_in || Math.round(hub.config.hub.cookie_max_age_days * 86_400);
    const { token } = await insertToken(db, {
      userId: row.user_id, note: `OAuth token for ${client.description || client.identifier}`, scopes: row.scopes,
      clientId, sessionId: row.session_id, expiresAt: new Date(Date.now() + lifetime * 1000),
    });
    return { access_token: token, token_type: 'Bearer', expires_in: lifetime, scope: row.scopes.join(' ') };
  });
}

function sameHash(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

