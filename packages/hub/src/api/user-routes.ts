import type { FastifyInstance } from 'fastify';
import { findUser, userGroupNames } from '../db/users.js';
import { apiCaller, requireScopes, type ApiEnv } from './api-env.js';
import { userListRoutes } from './user-list-route.js';
import { userMutationRoutes } from './user-mutation-routes.js';
import { INCLUDE_STOPPED_QUERY, includeStoppedServers, NAME_PARAMS, presentUsers, userNotFound } from './user-present.js';

const READ_USER = ['read:users', 'read:users:name', 'read:servers', 'read:users:groups', 'read:users:activity', 'read:roles:users'];

/**
 * The users resource (contract 1.2): GET/POST /users, GET/POST/PATCH/DELETE /users/:name. Servers,
 * activity and tokens under /users/:name/... live in their own modules.
 */
export async function userRoutes(app: FastifyInstance, env: ApiEnv): Promise<void> {
  const { hub } = env;
  await userListRoutes(app, env);
  await userMutationRoutes(app, env);

  app.get<{ Params: { name: string } }>('/users/:name', { schema: { params: NAME_PARAMS, querystring: INCLUDE_STOPPED_QUERY } }, async (req) => {
    const { identity } = await apiCaller(env, req);
    const name = req.params.name;
    const user = await findUser(hub.db, name);
    const groups = user ? await userGroupNames(hub.db, user.id) : [];
    await requireScopes(identity, READ_USER, { user: name, groups });
    if (!user) throw userNotFound(name);
    const [model] = await presentUsers(hub, identity.scopeSet, [user], { includeStopped: includeStoppedServers(req), authState: 'if-allowed' });
    return model;
  });
}
