import type { FastifyInstance } from 'fastify';
import { findGroup } from '../db/groups.js';
import { deleteShare, findShare } from '../db/share-queries.js';
import { findUser } from '../db/users.js';
import { HubError } from '../errors.js';
import { shareModel } from '../presenters/share-model.js';
import { apiCaller, requireScopes, type ApiEnv } from './api-env.js';
import { NAME_SCHEMA, SHARED_SCHEMA, type NameParams, type SharedParams, type ShareSupport } from './share-support.js';

/** What is shared with a user or a group: /users/:name/shared[/:owner/:server] and /groups/:name/shared[/:owner/:server]. */
export async function sharedWithRoutes(app: FastifyInstance, env: ApiEnv, support: ShareSupport): Promise<void> {
  const { hub } = env;
  const db = hub.db;
  const { groupsOf, findSpawner, listSharesPage, changed } = support;

  const requireUser = async (name: string) => {
    const user = await findUser(db, name);
    if (!user) throw new HubError(404, `No such user: ${name}`);
    return user;
  };

  app.get<NameParams>('/users/:name/shared', { schema: NAME_SCHEMA }, async (req) => {
    const { identity } = await apiCaller(env, req);
    const { name } = req.params;
    await requireScopes(identity, ['read:users:shares'], { user: name }, groupsOf(name));
    const user = await requireUser(name);
    return listSharesPage(req, { userId: user.id });
  });

  /** The user's direct share on owner/server, or JupyterHub's 404. */
  const userShare = async (name: string, owner: string, server: string) => {
    const missing = () => new HubError(404, `No such share for user ${name} on ${owner}/${server}`);
    const user = await findUser(db, name);
    const spawner = user ? await findSpawner(owner, server) : undefined;
    const share = user && spawner ? await findShare(db, spawner.id, { userId: user.id }) : undefined;
    if (!share) throw missing();
    return share;
  };

  app.get<SharedParams>('/users/:name/shared/:owner/:server', { schema: SHARED_SCHEMA }, async (req) => {
    const { identity } = await apiCaller(env, req);
    const { name, owner, server } = req.params;
    await requireScopes(identity, ['read:users:shares'], { user: name }, groupsOf(name));
    return shareModel(hub, await userShare(name, owner, server));
  });

  app.delete<SharedParams>('/users/:name/shared/:owner/:server', { schema: SHARED_SCHEMA }, async (req, reply) => {
    const { identity } = await apiCaller(env, req);
    const { name, owner, server } = req.params;
    await requireScopes(identity, ['users:shares'], { user: name }, groupsOf(name));
    const share = await userShare(name, owner, server);
    await deleteShare(db, share.id);
    changed('share removed by its user', { server: `${owner}/${server}`, user: name, by: identity.name });
    return reply.code(204).type('text/plain').send();
  });

  app.get<NameParams>('/groups/:name/shared', { schema: NAME_SCHEMA }, async (req) => {
    const { identity } = await apiCaller(env, req);
    const { name } = req.params;
    await requireScopes(identity, ['read:groups:shares'], { groups: [name] });
    const group = await findGroup(db, name);
    if (!group) throw new HubError(404, `No such group: ${name}`);
    return listSharesPage(req, { groupId: group.id });
  });

  const groupShare = async (name: string, owner: string, server: string) => {
    const group = await findGroup(db, name);
    const spawner = group ? await findSpawner(owner, server) : undefined;
    const share = group && spawner ? await findShare(db, spawner.id, { groupId: group.id }) : undefined;
    if (!share) throw new HubError(404, `No such share for group ${name} on ${owner}/${server}`);
    return share;
  };

  app.get<SharedParams>('/groups/:name/shared/:owner/:server', { schema: SHARED_SCHEMA }, async (req) => {
    const { identity } = await apiCaller(env, req);
    const { name, owner, server } = req.params;
    await requireScopes(identity, ['read:groups:shares'], { groups: [name] });
    return shareModel(hub, await groupShare(name, owner, server));
  });

  app.delete<SharedParams>('/groups/:name/shared/:owner/:server', { schema: SHARED_SCHEMA }, async (req, reply) => {
    const { identity } = await apiCaller(env, req);
    const { name, owner, server } = req.params;
    await requireScopes(identity, ['groups:shares'], { groups: [name] });
    const share = await groupShare(name, owner, server);
    await deleteShare(db, share.id);
    changed('share removed from group', { server: `${owner}/${server}`, group: name, by: identity.name });
    return reply.code(204).type('text/plain').send();
  });
}
