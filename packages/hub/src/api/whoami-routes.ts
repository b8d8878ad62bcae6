import type { FastifyInstance } from 'fastify';
import { findUserById } from '../db/users.js';
import { identifyScopes } from '../auth/roles.js';
import { userModel } from '../presenters/user-model.js';
import { toScopeSet } from '../auth/scopes.js';
import { missingCredentials } from '../errors.js';
import { apiCaller, type ApiEnv } from './api-env.js';

/**
 * GET /hub/api/user: who the credential belongs to, with its scopes. Single-user servers and HubAuth
 * services call this for every new visitor, so it is on the hot path: the identity is cached and the
 * only query is the user row.
 */
export async function whoamiRoutes(app: FastifyInstance, env: ApiEnv): Promise<void> {
  app.get('/user', async (req) => {
    const { identity } = await apiCaller(env, req);
    if (identity.kind === 'service') {
      const svc = await env.hub.db.selectFrom('services').selectAll().where('name', '=', identity.name).executeTakeFirst();
      if (!svc) throw missingCredentials();
      const own = `read:services:name!service=${identity.name}`;
      return {
        kind: 'service', name: svc.name, admin: svc.admin, roles: svc.admin ? ['admin'] : [],
        scopes: identity.scopes.filter((s) => s !== own), session_id: null, token_id: `a${identity.tokenId}`,
      };
    }
    const user = await findUserById(env.hub.db, identity.userId);
    if (!user) throw missingCredentials();
    const identify = new Set(identifyScopes(identity.name));
    const readable = toScopeSet([...identity.scopes, ...identify]);
    const model = userModel(user, identity.groups, env.hub.servers.forUser(user.id), env.hub.urls, readable);
    return {
      ...model,
      scopes: identity.scopes.filter((s) => !identify.has(s)),
      session_id: identity.tokenId === null ? null : identity.sessionId,
      token_id: identity.tokenId === null ? null : `a${identity.tokenId}`,
    };
  });
}
