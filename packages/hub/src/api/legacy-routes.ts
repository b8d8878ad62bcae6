import type { FastifyInstance } from 'fastify';
import { HubError } from '@tshub/plugin-api';
import { findUser, findUserById } from '../db/users.js';
import { toScopeSet } from '../auth/scopes.js';
import { identifyScopes } from '../auth/roles.js';
import { hashSecret } from '../auth/secrets.js';
import { userModel } from '../presenters/user-model.js';
import { notFound } from '../errors.js';
import { apiCaller, requireScopes, type ApiEnv } from './api-env.js';

/**
 * Deprecated endpoints that old clients (JupyterHub < 2 services) still call: resolve a token or a
 * login cookie to its owner, and the no-op admin-access call. Each logs a deprecation warning.
 */
export async function legacyRoutes(app: FastifyInstance, env: ApiEnv): Promise<void> {
  const { hub } = env;

  app.get<{ Params: { token: string } }>('/authorizations/token/:token', async (req) => {
    const caller = await apiCaller(env, req);
    if (caller.via !== 'token') throw new HubError(403, 'Missing or invalid credentials.');
    hub.log.warn('/authorizations/token/:token is deprecated since JupyterHub 2.0; use /hub/api/user');
    const owner = await hub.identities.fromToken(req.params.token);
    if (!owner) throw notFound('Token');
    if (owner.kind === 'service') {
      return { kind: 'service', name: owner.name, admin: owner.admin, roles: owner.admin ? ['admin'] : [] };
    }
    const user = await findUserById(hub.db, owner.userId);
    if (!user) throw notFound('Token');
    // Holding a token is enough to read who owns it (that is all this endpoint is for).
    return userModel(user, owner.groups, hub.servers.forUser(user.id), hub.urls, toScopeSet(identifyScopes(user.name)));
  });

  app.post('/authorizations/token', async () => {
    throw new HubError(404, 'Deprecated endpoint /hub/api/authorizations/token is removed in JupyterHub 2.0. Use /hub/api/users/:user/tokens instead.');
  });

  const byCookie = async (req: { params: { value?: string } }, caller: Awaited<ReturnType<typeof apiCaller>>) => {
    if (caller.via !== 'token') throw new HubError(403, 'Missing or invalid credentials.');
    hub.log.warn('/authorizations/cookie is deprecated since JupyterHub 2.0; use /hub/api/user with OAuth tokens');
    const raw = req.params.value ? decodeURIComponent(req.params.value) : '';
    const unsigned = app.unsignCookie(raw);
    if (!unsigned.valid || !unsigned.value) throw notFound('Cookie');
    const owner = await hub.identities.fromSession(hashSecret(unsigned.value));
    if (!owner) throw notFound('Cookie');
    const user = await findUserById(hub.db, owner.userId);
    if (!user) throw notFound('Cookie');
    return userModel(user, owner.groups, hub.servers.forUser(user.id), hub.urls, null);
  };
  app.get<{ Params: { name: string; value?: string } }>('/authorizations/cookie/:name/:value', async (req) => byCookie(req, await apiCaller(env, req)));

  app.post<{ Params: { name: string } }>('/users/:name/admin-access', async (req) => {
    const { identity } = await apiCaller(env, req);
    await requireScopes(identity, ['servers'], { user: req.params.name, server: `${req.params.name}/` });
    hub.log.warn({ by: identity.name, user: req.params.name }, '/users/:name/admin-access is deprecated since JupyterHub 0.8');
    if (!hub.config.hub.admin_access) throw new HubError(403, 'admin access to user servers disabled');
    const user = await findUser(hub.db, req.params.name);
    if (!user) throw notFound(`User ${req.params.name}`);
    return {};
  });
}
