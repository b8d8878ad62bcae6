import type { FastifyInstance } from 'fastify';
import type { JsonObject } from '@tshub/plugin-api';
import { normalizeUsername, validUsername } from '../auth/login-flow.js';
import { hasScope } from '../auth/scopes.js';
import { findUser, userGroupNames } from '../db/users.js';
import { findGroupsByName, updateUser, type UserPatch } from '../db/user-queries.js';
import { addUsers, removeUser } from '../services/user-lifecycle.js';
import { badRequest, HubError, notAuthorized } from '../errors.js';
import { apiCaller, requireScopes, type ApiEnv } from './api-env.js';
import { checkUserModel, NAME_PARAMS, presentUsers, userNotFound } from './user-present.js';

type NameParams = { Params: { name: string } };


/** POST, PATCH and DELETE /users/:name (contract 1.2; CVE-2024-41942 admin rules). */
export async function userMutationRoutes(app: FastifyInstance, env: ApiEnv): Promise<void> {
  const { hub } = env;
  const pattern = () => hub.config.authenticator.username_pattern;
  const groupsOf = (name: string) => async () => {
    const u = await findUser(hub.db, name);
    return u ? userGroupNames(hub.db, u.id) : [];
  };

  app.post<NameParams>('/users/:name', { schema: { params: NAME_PARAMS } }, async (req, reply) => {
    const { identity } = await apiCaller(env, req);
    const name = normalizeUsername(req.params.name);
    await requireScopes(identity, ['admin:users'], { user: name, groups: [] });
    if (!validUsername(name, pattern())) throw badRequest(`Invalid username: ${name}`);
    if (await findUser(hub.db, name)) throw new HubError(409, `User ${name} already exists`);
    const data: unknown = req.body ?? {};
    checkUserModel(data);
    if (data.admin === true && !identity.admin) throw new HubError(403, 'Only admins can grant admin permissions');
    const [user] = await addUsers(hub, [name], data.admin === true, identity.name);
    // Lost a race with another creation of the same name.
    if (!user) throw new HubError(409, `User ${name} already exists`);
    const [model] = await presentUsers(hub, identity.scopeSet, [user]);
    return reply.code(201).send(model);
  });

  app.patch<NameParams>('/users/:name', { schema: { params: NAME_PARAMS } }, async (req) => {
    const { identity } = await apiCaller(env, req);
    const { name } = req.params;
    await requireScopes(identity, ['admin:users'], { user: name }, groupsOf(name));
    const user = await findUser(hub.db, name);
    if (!user) throw userNotFound(name);
    const data: unknown = req.body;
    checkUserModel(data);
    const patch: UserPatch = {};
    if (typeof data.name === 'string' && data.name !== user.name) {
      const newName = data.name;
      if (normalizeUsername(newName) !== newName || !validUsername(newName, pattern())) throw badRequest(`Invalid username: ${newName}`);
      if (await findUser(hub.db, newName)) throw badRequest(`User ${newName} already exists, username must be unique`);
      patch.name = newName;
    }
    if (!identity.admin) {
      if (user.admin) throw new HubError(403, 'Only admins can modify other admins');
      if (data.admin === true) throw new HubError(403, 'Only admins can grant admin permissions');
    }
    if (data.roles !== undefined) throw badRequest('Roles cannot be changed through the users API; assign them with load_roles');
    if (patch.name !== undefined) {
      // A running server is tied to its owner's name: its proxy route and URL (/user/<name>/), its
      // API token's scopes and its OAuth client all embed it, so renaming under it would orphan them.
      const live = hub.servers.forUser(user.id);
      if (live.some((rt) => rt.active)) {
        throw badRequest(`User ${user.name} has servers running or pending; stop them before renaming the user`);
      }
      // A failed start is remembered under the old name: forget it.
      await Promise.all(live.map((rt) => hub.servers.stop(rt)));
    }
    if (typeof data.admin === 'boolean') patch.admin = data.admin;
    if (data.auth_state !== undefined) {
      // Encrypted with the first JUPYTERHUB_CRYPT_KEY (which also re-encrypts rows written under an older key).
      const state = data.auth_state as JsonObject | null;
      patch.authState = hub.loginServices.state.write(state);
    }
    if (Array.isArray(data.groups)) {
      const wanted = [...new Set(data.groups as string[])];
      const found = await findGroupsByName(hub.db, wanted);
      const missing = wanted.filter((g) => !found.some((f) => f.name === g));
      if (missing.length) throw badRequest(`No such group${missing.length > 1 ? 's' : ''}: ${missing.join(', ')}`);
      // Membership can carry roles, so changing it needs the `groups` scope on each group touched.
      const current = await userGroupNames(hub.db, user.id);
      const touched = [...wanted.filter((g) => !current.includes(g)), ...current.filter((g) => !wanted.includes(g))];
      if (touched.some((g) => !hasScope(identity.scopeSet, 'groups', { groups: [g] }))) throw notAuthorized(['groups']);
      patch.groupIds = found.map((g) => g.id);
    }
    for (const key of Object.keys(data)) {
      hub.log.info({ by: identity.name, user: user.name, key, value: key === 'auth_state' ? '...' : data[key] }, 'user updated');
    }
    const updated = await updateUser(hub.db, user.id, patch);
    if (patch.name !== undefined && patch.name !== user.name) await hub.authenticator.accounts?.userRenamed(user.name, patch.name);
    hub.identities.invalidate();
    const [model] = await presentUsers(hub, identity.scopeSet, [updated], { authState: 'always' });
    return model;
  });

  app.delete<NameParams>('/users/:name', { schema: { params: NAME_PARAMS } }, async (req, reply) => {
    const { identity } = await apiCaller(env, req);
    const { name } = req.params;
    await requireScopes(identity, ['delete:users'], { user: name }, groupsOf(name));
    const user = await findUser(hub.db, name);
    if (!user) throw userNotFound(name);
    if (user.id === identity.userId) throw badRequest('Cannot delete yourself!');
    await removeUser(hub, user, identity.name);
    return reply.code(204).send();
  });
}
