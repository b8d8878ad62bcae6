import type { FastifyInstance } from 'fastify';
import { hasScope } from '../auth/scopes.js';
import { findGroup } from '../db/groups.js';
import { createGroup, deleteGroup, listGroups } from '../db/group-queries.js';
import type { GroupRow } from '../db/schema.js';
import { HubError, badRequest, noAccess, notAuthorized } from '../errors.js';
import { apiCaller, requireScopes, type ApiEnv } from './api-env.js';
import { groupMemberRoutes } from './group-member-routes.js';
import {
  GROUP_PARAMS, checkGroupBody, checkGroupName, presentGroup, presentGroups, requireGroup, resolveUsers, type GroupParams,
} from './group-support.js';
import { pageRequest, pageResponse } from './pagination.js';

const READ_GROUP = ['read:groups', 'read:groups:name', 'read:roles:groups'];

/**
 * /hub/api/groups: list (paginated, `!group=` filters applied in SQL), bulk create, and one group's
 * read / create / delete. Membership and properties live in group-member-routes.ts.
 */
export async function groupRoutes(app: FastifyInstance, env: ApiEnv): Promise<void> {
  const { hub } = env;

  app.get('/groups', async (req) => {
    const { identity } = await apiCaller(env, req);
    const filters = identity.scopeSet.get('list:groups');
    if (!filters) throw notAuthorized(['list:groups']);
    let names: string[] | null = null;
    if (!filters.has('')) {
      // Only `!group=` filters can select groups; anything else (e.g. `!user=`) must not widen to all.
      names = [...filters].filter((f) => f.startsWith('group=')).map((f) => f.slice('group='.length));
      if (!names.length) throw notAuthorized(['list:groups']);
    }
    const page = pageRequest(req, hub.config.hub);
    const { rows, total } = await listGroups(hub.db, { names, offset: page.offset, limit: page.limit });
    if (!page.paginated && page.offset === 0 && total > rows.length) {
      hub.log.warn(`Truncated group list in request that does not expect pagination. Replying with ${rows.length} of ${total} total groups.`);
    }
    return pageResponse(req, page, await presentGroups(env, identity, rows), total);
  });

  app.post('/groups', async (req, reply) => {
    const { identity } = await apiCaller(env, req);
    if (!identity.scopeSet.has('admin:groups')) throw notAuthorized(['admin:groups']);
    const body = req.body as Record<string, unknown> | undefined;
    const requested = body && typeof body === 'object' && !Array.isArray(body) ? body.groups : undefined;
    if (!Array.isArray(requested) || requested.length === 0) throw badRequest('Must specify at least one group to create');
    const { users = [], properties } = checkGroupBody(body, ['groups']);
    const names = requested.map(checkGroupName);
    // A caller holding admin:groups only for some groups may create only those.
    if (names.some((name) => !hasScope(identity.scopeSet, 'admin:groups', { groups: [name] }))) throw noAccess();
    const userIds = await resolveUsers(env, users);
    const created: GroupRow[] = [];
    try {
      for (const name of names) {
        // As in JupyterHub, groups created before the first existing name stay created.
        const row = await createGroup(hub.db, name, userIds, properties);
        if (!row) throw new HubError(409, `Group ${name} already exists`);
        hub.log.info({ group: name, users: userIds.length }, 'created group');
        created.push(row);
      }
    } finally {
      if (created.length && userIds.length) hub.identities.invalidate();
    }
    reply.code(201);
    return presentGroups(env, identity, created);
  });

  app.get<GroupParams>('/groups/:name', { schema: GROUP_PARAMS }, async (req) => {
    const { identity } = await apiCaller(env, req);
    const { name } = req.params;
    await requireScopes(identity, READ_GROUP, { groups: [name] });
    return presentGroup(env, identity, await requireGroup(env, name));
  });

  app.post<GroupParams>('/groups/:name', { schema: GROUP_PARAMS }, async (req, reply) => {
    const { identity } = await apiCaller(env, req);
    const { name } = req.params;
    await requireScopes(identity, ['admin:groups'], { groups: [name] });
    checkGroupName(name);
    const { users = [], properties } = req.body === undefined || req.body === null ? {} : checkGroupBody(req.body);
    if (await findGroup(hub.db, name)) throw new HubError(409, `Group ${name} already exists`);
    const userIds = await resolveUsers(env, users);
    const row = await createGroup(hub.db, name, userIds, properties);
    if (!row) throw new HubError(409, `Group ${name} already exists`);
    if (userIds.length) hub.identities.invalidate();
    hub.log.info({ group: name, users: userIds.length }, 'created group');
    reply.code(201);
    return presentGroup(env, identity, row);
  });

  app.delete<GroupParams>('/groups/:name', { schema: GROUP_PARAMS }, async (req, reply) => {
    const { identity } = await apiCaller(env, req);
    const { name } = req.params;
    await requireScopes(identity, ['delete:groups'], { groups: [name] });
    const group = await requireGroup(env, name);
    if (!(await deleteGroup(hub.db, group.id))) throw new HubError(404, `No such group: ${name}`);
    // Members lose whatever the group's roles (and `!group=` filters) gave them.
    hub.identities.invalidate();
    hub.log.info({ group: name }, 'deleted group');
    return reply.code(204).send();
  });

  await groupMemberRoutes(app, env);
}
