import type { FastifyInstance } from 'fastify';
import { hasAnyScope } from '../auth/scopes.js';
import { normalizeUsername, validUsername } from '../auth/login-flow.js';
import { countUsers, findUsersByName, listUsers, type UserListQuery } from '../db/user-queries.js';
import { addUsers } from '../services/user-lifecycle.js';
import { badRequest, HubError, notAuthorized } from '../errors.js';
import { apiCaller, requireScopes, type ApiEnv } from './api-env.js';
import { pageRequest, pageResponse } from './pagination.js';
import { checkUserModel, includeStoppedServers, presentUsers, queryArg } from './user-present.js';

const LIST_QUERY = {
  type: 'object',
  properties: {
    state: { type: 'string', maxLength: 100 },
    offset: { type: 'string', maxLength: 100 },
    limit: { type: 'string', maxLength: 100 },
    sort: { type: 'string', maxLength: 100 },
    name_filter: { type: 'string', maxLength: 1000 },
    include_stopped_servers: { type: 'string', maxLength: 100 },
  },
} as const;

const SORTS = new Set(['id', 'name', 'last_activity']);

/** GET /users (filtered, sorted, paginated in SQL) and POST /users (bulk create). */
export async function userListRoutes(app: FastifyInstance, env: ApiEnv): Promise<void> {
  const { hub } = env;

  app.get('/users', { schema: { querystring: LIST_QUERY } }, async (req) => {
    const { identity } = await apiCaller(env, req);
    const filters = identity.scopeSet.get('list:users');
    if (!filters) throw notAuthorized(['list:users']);
    let visible: UserListQuery['visible'] = null;
    if (!filters.has('')) {
      const users: string[] = [];
      const groups: string[] = [];
      for (const f of filters) {
        if (f.startsWith('user=')) users.push(f.slice(5));
        else if (f.startsWith('group=')) groups.push(f.slice(6));
        else {
          // As JupyterHub: a !server= or !service= filter must not widen to every user.
          hub.log.warn({ user: identity.name, filter: f }, 'invalid filter on list:users');
          throw notAuthorized(['list:users']);
        }
      }
      visible = { users, groups };
    }

    const state = queryArg(req, 'state');
    let ids: UserListQuery['ids'] = null;
    if (state !== undefined && state !== '') {
      if (!['active', 'ready', 'inactive'].includes(state)) throw badRequest(`Unrecognized state filter: '${state}'`);
      // Servers' live state is in memory (a pending spawn has no `started` row yet), so the state
      // filter is the set of user ids with an active (or ready) runtime, passed to SQL as one array.
      const set = new Set<number>();
      for (const rt of hub.servers.all) if (state === 'ready' ? rt.ready : rt.active) set.add(rt.userId);
      ids = { mode: state === 'inactive' ? 'not in' : 'in', ids: [...set] };
    }

    const sortArg = queryArg(req, 'sort') ?? 'id';
    const descending = sortArg.startsWith('-');
    const sort = descending ? sortArg.slice(1) : sortArg;
    if (!SORTS.has(sort)) throw badRequest(`sort must be 'id', 'name', or 'last_activity', not '${sortArg}'`);

    const page = pageRequest(req, hub.config.hub);
    const q: UserListQuery = {
      visible, ids, descending, offset: page.offset, limit: page.limit,
      sort: sort as UserListQuery['sort'],
      nameFilter: queryArg(req, 'name_filter') || null,
    };
    const rows = await listUsers(hub.db, q);
    // The total costs a COUNT: only when the client reads it, or to log a silent truncation.
    const needTotal = page.paginated || (page.offset === 0 && rows.length === page.limit);
    const total = needTotal ? await countUsers(hub.db, q) : page.offset + rows.length;
    if (!page.paginated && total > rows.length && page.offset === 0) {
      hub.log.warn({ returned: rows.length, total }, `Truncated user list in request that does not expect pagination. Processing ${rows.length} of ${total} total users.`);
    }
    const items = await presentUsers(hub, identity.scopeSet, rows, { includeStopped: includeStoppedServers(req) });
    return pageResponse(req, page, items, total);
  });

  app.post('/users', async (req, reply) => {
    const { identity } = await apiCaller(env, req);
    if (!hasAnyScope(identity.scopeSet, 'admin:users')) throw notAuthorized(['admin:users']);
    const data = req.body as Record<string, unknown> | null | undefined;
    if (!data || typeof data !== 'object' || Array.isArray(data) || !data.usernames || (Array.isArray(data.usernames) && !data.usernames.length)) {
      throw badRequest('Must specify at least one user to create');
    }
    const { usernames, ...rest } = data;
    if (!Array.isArray(usernames) || usernames.some((n) => typeof n !== 'string')) throw badRequest('usernames must be a list of strings');
    checkUserModel(rest);
    const admin = rest.admin === true;
    if (admin && !identity.admin) throw new HubError(403, 'Only admins can grant admin permissions');

    const pattern = hub.config.authenticator.username_pattern;
    const names: string[] = [];
    const invalid: string[] = [];
    for (const raw of usernames as string[]) {
      const name = normalizeUsername(raw);
      if (!validUsername(name, pattern)) invalid.push(name);
      else if (!names.includes(name)) names.push(name);
    }
    if (invalid.length === 1) throw badRequest(`Invalid username: ${invalid[0]}`);
    if (invalid.length > 1) throw badRequest(`Invalid usernames: ${invalid.join(', ')}`);
    // A filtered admin:users (e.g. !user=x) may create only the users it names.
    for (const name of names) await requireScopes(identity, ['admin:users'], { user: name, groups: [] });

    const existing = new Set((await findUsersByName(hub.db, names)).map((u) => u.name));
    for (const name of existing) hub.log.warn({ user: name }, `User ${name} already exists`);
    const toCreate = names.filter((n) => !existing.has(n));
    if (!toCreate.length) throw new HubError(409, `All ${usernames.length} users already exist`);
    const created = await addUsers(hub, toCreate, admin, identity.name);
    const order = new Map(toCreate.map((n, i) => [n, i]));
    created.sort((a, b) => (order.get(a.name) ?? 0) - (order.get(b.name) ?? 0));
    return reply.code(201).send(await presentUsers(hub, identity.scopeSet, created));
  });
}
