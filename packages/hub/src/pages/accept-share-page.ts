import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { HubError } from '@tshub/plugin-api';
import { hashSecret } from '../auth/secrets.js';
import { resolveShareScopes } from '../auth/share-scopes.js';
import { exchangeShareCode, findShareCode, purgeExpiredCodes, type ShareCodeView } from '../db/share-queries.js';
import { userServerPath } from '../url-escape.js';
import { pageUser, type PageEnv } from './page-env.js';

/** Plain-language descriptions of the scopes a share usually carries (others are shown as-is). */
const SCOPE_TEXT: Readonly<Record<string, string>> = {
  'access:servers': 'Open the server: browse files, edit notebooks and run code',
  'read:servers': 'See whether the server is running',
  servers: 'Start and stop the server',
  'delete:servers': 'Stop the server',
  shares: 'Share the server with others',
  'read:shares': 'See who the server is shared with',
};

/**
 * /hub/accept-share?code=... (JupyterHub 5): a signed-in user sees what a share code grants (owner,
 * server, permissions) and accepts it with a POST (xsrf-checked). Accepting creates or extends the
 * user's share of that server, counts the exchange, then sends the user to the server.
 */
export async function acceptSharePage(app: FastifyInstance, env: PageEnv): Promise<void> {
  const { hub, auth, pages } = env;
  const url = `${hub.urls.hubPrefix}accept-share`;
  const home = [{ href: `${hub.urls.hubPrefix}home`, text: 'Home' }];

  /** The live code named by the request, or an error page (returns null then). */
  const lookup = async (req: FastifyRequest, reply: FastifyReply, code: unknown, userId: number): Promise<ShareCodeView | null> => {
    if (typeof code !== 'string' || !code) {
      await pages.error(req, reply, 400, 'This link has no share code. Ask the owner of the server for a new link.', home);
      return null;
    }
    const found = await findShareCode(hub.db, hashSecret(code));
    if (!found) {
      await pages.error(req, reply, 404, 'No such share code: it may have been revoked. Ask the owner of the server for a new link.', home);
      return null;
    }
    if (found.expires_at.getTime() <= Date.now()) {
      await purgeExpiredCodes(hub.db);
      await pages.error(req, reply, 404, 'This share code has expired. Ask the owner of the server for a new link.', home);
      return null;
    }
    if (found.owner_id === userId) {
      await pages.error(req, reply, 400, 'This share code is for your own server: you already have access to it.', home);
      return null;
    }
    return found;
  };

  app.get(url, async (req, reply) => {
    const who = await pageUser(env, req, reply);
    if (!who) return reply;
    const code = (req.query as Record<string, unknown>).code;
    const found = await lookup(req, reply, code, who.identity.userId);
    if (!found) return reply;
    const scopes = resolveShareScopes(found.scopes, found.owner_name, found.server_name);
    // Accepting is a consent decision: never let another site frame this page.
    reply.header('X-Frame-Options', 'DENY');
    return pages.page(req, reply, 'accept-share.html', {
      code,
      owner: found.owner_name,
      server_name: found.server_name,
      server_url: userServerPath(hub.urls.baseUrl, found.owner_name, found.server_name),
      server_ready: Boolean(hub.servers.get(found.owner_id, found.server_name)?.ready),
      scope_descriptions: scopes.map((s) => {
        const base = s.split('!')[0]!;
        return { scope: s, text: SCOPE_TEXT[base] ?? null };
      }),
      expires_at: found.expires_at.toISOString(),
      accept_url: url,
    });
  });

  app.post(url, async (req, reply) => {
    const who = await pageUser(env, req, reply);
    if (!who) return reply;
    const form = (req.body ?? {}) as Record<string, unknown>;
    try {
      auth.checkXsrf(req, typeof form._xsrf === 'string' ? form._xsrf : undefined, 'The form expired. Open the share link again.');
    } catch (err) {
      return pages.error(req, reply, 403, (err as HubError).message, home);
    }
    const code = form.code ?? (req.query as Record<string, unknown>).code;
    const found = await lookup(req, reply, code, who.identity.userId);
    if (!found) return reply;
    const share = await exchangeShareCode(hub.db, found.id, who.identity.userId, resolveShareScopes(found.scopes, found.owner_name, found.server_name));
    if (!share) return pages.error(req, reply, 404, 'This share code has expired. Ask the owner of the server for a new link.', home);
    hub.identities.invalidate();
    hub.log.info({ user: who.identity.name, server: `${found.owner_name}/${found.server_name}`, code: `sc_${found.id}` }, 'accepted share code');
    return reply.redirect(userServerPath(hub.urls.baseUrl, found.owner_name, found.server_name), 303);
  });
}
