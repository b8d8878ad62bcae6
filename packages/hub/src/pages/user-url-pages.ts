import { readFileSync } from 'node:fs';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { hasScope } from '../auth/scopes.js';
import { findUser } from '../db/users.js';
import { urlEscapePath } from '../url-escape.js';
import { userOrigin } from '../subdomain-host.js';
import { pageUser, pageUserOrToken, type PageEnv } from './page-env.js';

const REDIRECT_LIMIT = 4;

/**
 * Where requests for servers land when the proxy has no route for them: /hub/user/NAME/... (start
 * page, never a redirect loop), /user-redirect/..., the catch-all prefix redirect, proxy error pages.
 */
export async function userUrlPages(app: FastifyInstance, env: PageEnv): Promise<void> {
  const { hub, pages } = env;
  const { hubPrefix: prefix, baseUrl } = hub.urls;
  const prefixDepth = segments(prefix).length;
  // With subdomain_host a user's server lives on the user's own host: redirects there are absolute.
  const sd = hub.urls.subdomain ?? null;
  const originOf = (user: string) => (sd ? userOrigin(sd, user) : '');

  app.get(prefix, async (req, reply) => {
    if (hub.config.hub.default_url) return reply.redirect(hub.config.hub.default_url);
    const who = await env.auth.identify(req, { allowToken: false });
    if (!who) return reply.redirect(`${prefix}login`);
    return reply.redirect(hub.config.hub.redirect_to_server ? `${prefix}spawn` : `${prefix}home`);
  });

  const health = async (_req: FastifyRequest, reply: FastifyReply) => reply.code(200).send('');
  app.get(`${prefix}health`, health);

  // The logo single-user pages load from the hub, and the icon browsers ask for.
  const logo = readFileSync(new URL('../../static/logo.svg', import.meta.url));
  const favicon = readFileSync(new URL('../../static/favicon.svg', import.meta.url));
  const image = (body: Buffer) => async (_req: FastifyRequest, reply: FastifyReply) =>
    reply.type('image/svg+xml').header('Cache-Control', 'public, max-age=86400').send(body);
  app.get(`${prefix}logo`, image(logo));
  app.get(`${prefix}favicon.ico`, image(favicon));

  app.get<{ Params: { code: string } }>(`${prefix}error/:code`, async (req, reply) => {
    const code = Number(req.params.code);
    const status = Number.isInteger(code) && code >= 400 && code < 600 ? code : 404;
    const message = status === 503
      ? 'Your server appears to be down. Try restarting it from the hub.'
      : status === 404 ? 'There is nothing at this address.' : null;
    return pages.error(req, reply, status, message, [{ href: `${prefix}home`, text: 'Home' }]);
  });

  app.get<{ Params: { '*': string } }>(`${prefix}user-redirect/*`, async (req, reply) => {
    const who = await pageUser(env, req, reply);
    if (!who) return reply;
    const qs = req.url.includes('?') ? req.url.slice(req.url.indexOf('?')) : '';
    const server = hub.config.hub.default_server_name;
    const dest = `${originOf(who.identity.name)}${baseUrl}user/${urlEscapePath(who.identity.name)}/${server ? urlEscapePath(server) + '/' : ''}${rawTail(req.url, prefixDepth + 1)}${qs}`;
    return reply.redirect(`${prefix}spawn/${urlEscapePath(who.identity.name)}${server ? '/' + urlEscapePath(server) : ''}?next=${encodeURIComponent(dest)}`);
  });

  const userUrl = async (req: FastifyRequest<{ Params: { user: string; '*'?: string } }>, reply: FastifyReply) => {
    const who = await pageUserOrToken(env, req, reply);
    if (!who) return reply;
    const name = req.params.user;
    const rest = req.params['*'] ?? '';
    // Redirects carry the path as the request spelled it (`a%3Fb` stays one segment, `%0A` stays
    // escaped instead of breaking the Location header); `rest` is decoded, for looking things up.
    const rawRest = rawTail(req.url, prefixDepth + 2);
    const user = await findUser(hub.db, name);
    let server = '';
    if (user && hub.config.hub.allow_named_servers) {
      const first = rest.split('/')[0] ?? '';
      if (first && hub.servers.get(user.id, first)) server = first;
    }
    const canAccess = hasScope(who.identity.scopeSet, 'access:servers', { user: name, server: `${name}/${server}` });
    if (!user || !canAccess) return pages.error(req, reply, 404, `No access to the server of ${name}, or no such user.`);
    const rt = hub.servers.get(user.id, server);
    const serverPath = `${baseUrl}user/${urlEscapePath(name)}/${server ? urlEscapePath(server) + '/' : ''}`;
    const spawnUrl = `${prefix}spawn/${urlEscapePath(name)}${server ? '/' + urlEscapePath(server) : ''}`;
    const url = new URL(req.url, 'http://x');
    if (rt?.ready) {
      // The route exists, yet the request came to the hub: the proxy may be catching up. Retry a few
      // times, then say so instead of looping forever.
      const redirects = Number(url.searchParams.get('redirects') ?? '0') || 0;
      if (redirects >= REDIRECT_LIMIT) {
        return pages.error(req, reply, 500, 'Redirect loop detected: the proxy does not route to your running server. An administrator should check the proxy.', [{ href: `${prefix}home`, text: 'Home' }]);
      }
      url.searchParams.set('redirects', String(redirects + 1));
      const target = `${originOf(name)}${baseUrl}user/${urlEscapePath(name)}/${rawRest}`;
      await new Promise((r) => setTimeout(r, redirects * 250));
      return reply.redirect(target + url.search);
    }
    if (rt?.pending === 'spawn' || rt?.phase === 'failed') {
      url.searchParams.delete('redirects');
      const next = `${originOf(name)}${baseUrl}user/${urlEscapePath(name)}/${rawRest}${url.search}`;
      return reply.code(303).redirect(`${prefix}spawn-pending/${urlEscapePath(name)}${server ? '/' + urlEscapePath(server) : ''}?next=${encodeURIComponent(next)}`, 303);
    }
    const wantsJson = req.method !== 'GET' || (req.headers.accept ?? '').includes('application/json') || /(^|\/)api(\/|$)/.test(rest);
    if (wantsJson) {
      return reply.code(424).type('application/json').send({
        status: 424,
        message: `JupyterHub server no longer running at ${serverPath}. Restart the server at ${spawnUrl}`,
      });
    }
    return pages.page(req, reply, 'not-running.html', {
      user_name: name, server_name: server, spawn_url: `${spawnUrl}?next=${encodeURIComponent(`${originOf(name)}${baseUrl}user/${urlEscapePath(name)}/${rawRest}`)}`,
      failed_message: null, implicit_spawn_seconds: hub.config.hub.implicit_spawn_seconds,
    }, 424);
  };
  app.route({ method: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD'], url: `${prefix}user/:user`, handler: userUrl });
  app.route({ method: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD'], url: `${prefix}user/:user/*`, handler: userUrl });

  // Anything outside /hub/ that reached the hub (no proxy route): JupyterHub's PrefixRedirectHandler.
  const prefixRedirect = async (req: FastifyRequest, reply: FastifyReply) => {
    const path = req.url.startsWith(baseUrl) ? req.url.slice(baseUrl.length) : req.url.replace(/^\//, '');
    if (path.startsWith('hub/') || path === 'hub') return pages.error(req, reply, 404, 'There is nothing at this address.');
    return reply.redirect(`${prefix}${path}`);
  };
  app.get(baseUrl, prefixRedirect);
  if (baseUrl !== '/') app.get('/', async (_req, reply) => reply.redirect(baseUrl));
  app.get(`${baseUrl}*`, prefixRedirect);
}

const segments = (path: string) => path.split('/').filter(Boolean);

/**
 * The raw path of `url` after its first `skip` non-empty segments (duplicate slashes count as one,
 * as the router ignores them), without the query, escapes kept as sent. Node's parser already
 * refuses raw controls, spaces and non-ASCII in a request line; should one get through, it is
 * percent-encoded rather than allowed to break the Location header.
 */
function rawTail(url: string, skip: number): string {
  const parts = url.split('?')[0]!.split('/');
  let i = 0;
  for (let seen = 0; i < parts.length && seen < skip; i++) if (parts[i]) seen++;
  return parts
    .slice(i)
    .join('/')
    .replace(/[^\x21-\x7e]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0'));
}
