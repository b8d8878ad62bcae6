import type { FastifyInstance } from 'fastify';
import { hasScope } from '../auth/scopes.js';
import { findGroup } from '../db/groups.js';
import { deleteServerShares, grantShare, revokeShare, type Grantee } from '../db/share-queries.js';
import { findUser, userGroupNames } from '../db/users.js';
import { HubError, badRequest } from '../errors.js';
import { shareModel } from '../presenters/share-model.js';
import { apiCaller, type ApiEnv } from './api-env.js';
import { shareCodeRoutes } from './share-code-routes.js';
import { OWNER_SCHEMA, SERVER_SCHEMA, parseShareBody, shareSupport, type OwnerParams, type ServerParams } from './share-support.js';
import { sharedWithRoutes } from './shared-with-routes.js';

/**
 * JupyterHub 5 sharing (contract 1.2 Shares row, 1.3, 5): grant, revoke and list shares of a server,
 * issue and revoke share codes, and list what is shared with a user or a group. Every list has the
 * paginated shape. Any change calls `identities.invalidate()`: shares are part of a user's scopes.
 */
export async function shareRoutes(app: FastifyInstance, env: ApiEnv): Promise<void> {
  const { hub } = env;
  const db = hub.db;

  const support = shareSupport(env);
  const { authorize, requireSpawner, requireGrantable, applyFilter, listSharesPage, changed, methodNotAllowed } = support;

  // ---- /shares/:owner[/:server] ----

  app.get<OwnerParams>('/shares/:owner', { schema: OWNER_SCHEMA }, async (req) => {
    const { identity } = await apiCaller(env, req);
    const { owner } = req.params;
    await authorize(identity, 'read:shares', owner);
    const user = await findUser(db, owner);
    if (!user) throw new HubError(404, `No such user: ${owner}`);
    return listSharesPage(req, { ownerId: user.id });
  });

  app.route<OwnerParams>({
    method: ['POST', 'PATCH', 'DELETE'],
    url: '/shares/:owner',
    schema: { ...OWNER_SCHEMA, hide: true } as never,
    handler: async (req) => {
      const { identity } = await apiCaller(env, req);
      await authorize(identity, 'shares', req.params.owner);
      throw methodNotAllowed('/shares/:owner');
    },
  });

  app.get<ServerParams>('/shares/:owner/:server', { schema: SERVER_SCHEMA }, async (req) => {
    const { identity } = await apiCaller(env, req);
    const { owner, server } = req.params;
    await authorize(identity, 'read:shares', owner, server);
    const spawner = await requireSpawner(owner, server);
    return listSharesPage(req, { spawnerId: spawner.id });
  });

  app.post<ServerParams>('/shares/:owner/:server', { schema: SERVER_SCHEMA }, async (req) => {
    const { identity } = await apiCaller(env, req);
    const { owner, server } = req.params;
    await authorize(identity, 'shares', owner, server);
    const body = parseShareBody(req.body);
    const scopes = applyFilter(body.scopes, owner, server);
    const spawner = await requireSpawner(owner, server);
    await requireGrantable(identity, scopes, owner, server);
    let grantee: Grantee;
    if (body.user !== undefined) {
      const user = await findUser(db, body.user);
      const groups = user ? await userGroupNames(db, user.id) : [];
      if (!hasScope(identity.scopeSet, 'read:users:name', { user: body.user, groups })) {
        throw new HubError(403, "Need scope 'read:users:name' to share with users by name");
      }
      if (!user) throw badRequest(`No such user: ${body.user}`);
      grantee = { userId: user.id };
    } else {
      const name = body.group!;
      if (!hasScope(identity.scopeSet, 'read:groups:name', { groups: [name] })) {
        throw new HubError(403, "Need scope 'read:groups:name' to share with groups by name");
      }
      const group = await findGroup(db, name);
      if (!group) throw badRequest(`No such group: ${name}`);
      grantee = { groupId: group.id };
    }
    const share = await grantShare(db, spawner.id, grantee, scopes);
    changed('granted share', { server: `${owner}/${server}`, user: body.user, group: body.group, scopes, by: identity.name });
    return shareModel(hub, share);
  });

  app.patch<ServerParams>('/shares/:owner/:server', { schema: SERVER_SCHEMA }, async (req) => {
    const { identity } = await apiCaller(env, req);
    const { owner, server } = req.params;
    await authorize(identity, 'shares', owner, server);
    const body = parseShareBody(req.body);
    const scopes = body.scopes === null ? null : applyFilter(body.scopes, owner, server);
    const spawner = await requireSpawner(owner, server);
    // Revoking needs no read:users:name; an unknown user or group simply has nothing to revoke.
    let grantee: Grantee | null = null;
    if (body.user !== undefined) {
      const user = await findUser(db, body.user);
      if (user) grantee = { userId: user.id };
    } else {
      const group = await findGroup(db, body.group!);
      if (group) grantee = { groupId: group.id };
    }
    if (!grantee) return {};
    const left = await revokeShare(db, spawner.id, grantee, scopes);
    changed('revoked share', { server: `${owner}/${server}`, user: body.user, group: body.group, scopes: scopes ?? 'all', by: identity.name });
    return left ? shareModel(hub, left) : {};
  });

  app.delete<ServerParams>('/shares/:owner/:server', { schema: SERVER_SCHEMA }, async (req, reply) => {
    const { identity } = await apiCaller(env, req);
    const { owner, server } = req.params;
    await authorize(identity, 'shares', owner, server);
    const spawner = await requireSpawner(owner, server);
    const count = await deleteServerShares(db, spawner.id);
    changed('revoked all shares of a server', { server: `${owner}/${server}`, count, by: identity.name });
    return reply.code(204).type('text/plain').send();
  });

  await shareCodeRoutes(app, env, support);
  await sharedWithRoutes(app, env, support);
}
