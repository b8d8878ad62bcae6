import type { FastifyInstance } from 'fastify';
import { findUser, userGroupNames } from '../db/users.js';
import { notFound } from '../errors.js';
import { userModel } from '../presenters/user-model.js';
import { apiCaller, requireScopes, type ApiEnv } from './api-env.js';

const READ_USER = ['read:users', 'read:users:name', 'read:servers', 'read:users:groups', 'read:users:activity', 'read:roles:users'];

/** GET /hub/api/users/:name (the full users resource grows with the REST API issue). */
export async function userRoutes(app: FastifyInstance, env: ApiEnv): Promise<void> {
  const { hub } = env;
  app.get<{ Params: { name: string } }>('/users/:name', async (req) => {
    const { identity } = await apiCaller(env, req);
    const name = req.params.name;
    const user = await findUser(hub.db, name);
    const groups = user ? await userGroupNames(hub.db, user.id) : [];
    await requireScopes(identity, READ_USER, { user: name, groups });
    if (!user) throw notFound(`No such user: ${name}`);
    return userModel(user, groups, hub.servers.forUser(user.id), hub.urls.hubPrefix, identity.scopeSet);
  });
}
