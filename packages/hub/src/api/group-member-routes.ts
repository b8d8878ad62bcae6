import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { JsonObject } from '@tshub/plugin-api';
import { addGroupMembers } from '../db/groups.js';
import { removeGroupMembers, setGroupProperties } from '../db/group-queries.js';
import { HubError, badRequest } from '../errors.js';
import { apiCaller, requireScopes, type ApiEnv } from './api-env.js';
import { GROUP_PARAMS, checkGroupBody, presentGroup, requireGroup, resolveUsers, type GroupParams } from './group-support.js';

/**
 * A group's members (POST / DELETE /groups/:name/users, body `{"users": [...]}`) and properties
 * (PUT /groups/:name/properties). All need the `groups` scope on the group and answer 200 with the
 * updated Group model.
 */
export async function groupMemberRoutes(app: FastifyInstance, env: ApiEnv): Promise<void> {
  const { hub } = env;

  const changeMembers = (action: 'add' | 'delete') => async (req: FastifyRequest<GroupParams>) => {
    const { identity } = await apiCaller(env, req);
    const { name } = req.params;
    await requireScopes(identity, ['groups'], { groups: [name] });
    const group = await requireGroup(env, name);
    const { users } = checkGroupBody(req.body ?? {});
    if (users === undefined) throw badRequest(`Must specify users to ${action}`);
    const userIds = await resolveUsers(env, users);
    if (action === 'add') await addGroupMembers(hub.db, group.id, userIds);
    else await removeGroupMembers(hub.db, group.id, userIds);
    // Group roles and `!group=` filters change what these users hold.
    if (userIds.length) hub.identities.invalidate();
    hub.log.info({ group: name, users: userIds.length }, action === 'add' ? 'added users to group' : 'removed users from group');
    return presentGroup(env, identity, group);
  };

  app.post<GroupParams>('/groups/:name/users', { schema: GROUP_PARAMS }, changeMembers('add'));
  app.delete<GroupParams>('/groups/:name/users', { schema: GROUP_PARAMS }, changeMembers('delete'));

  app.put<GroupParams>('/groups/:name/properties', { schema: GROUP_PARAMS }, async (req) => {
    const { identity } = await apiCaller(env, req);
    const { name } = req.params;
    await requireScopes(identity, ['groups'], { groups: [name] });
    const group = await requireGroup(env, name);
    const body = req.body as unknown;
    if (typeof body !== 'object' || body === null || Array.isArray(body)) throw badRequest('properties must be a dict');
    const row = await setGroupProperties(hub.db, group.id, body as JsonObject);
    if (!row) throw new HubError(404, `No such group: ${name}`);
    return presentGroup(env, identity, row);
  });
}
