import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Identity } from '../auth/identity.js';
import { hasScope } from '../auth/scopes.js';
import { filterShareScopes } from '../auth/share-scopes.js';
import { hashSecret, newSecret } from '../auth/secrets.js';
import { findGroup } from '../db/groups.js';
import type { SpawnerRow } from '../db/schema.js';
import {
  deleteServerShareCodes, deleteServerShares, deleteShare, deleteShareCode, findShare, findShareCode, grantShare, insertShareCode,
  listShareCodes, listShares, purgeExpiredCodes, revokeShare, type Grantee, type ShareFilter,
} from '../db/share-queries.js';
import { ensureSpawnerRow } from '../db/spawners.js';
import { findUser, userGroupNames } from '../db/users.js';
import { HubError, badRequest } from '../errors.js';
import { shareCodeModel, shareModel } from '../presenters/share-model.js';
import { scopeProblem } from '../services/sync-roles.js';
import { apiCaller, requireScopes, type ApiEnv } from './api-env.js';
import { pageRequest, pageResponse } from './pagination.js';

type OwnerParams = { Params: { owner: string } };
type ServerParams = { Params: { owner: string; server: string } };
type NameParams = { Params: { name: string } };
type SharedParams = { Params: { name: string; owner: string; server: string } };

const NAME = { type: 'string', minLength: 1, maxLength: 1000 } as const;
/** `''` is the default server (`/shares/alice/`). */
const SERVER = { type: 'string', maxLength: 1000 } as const;
const schema = (properties: Record<string, object>) => ({ params: { type: 'object', required: Object.keys(properties), properties } }) as const;
const OWNER_SCHEMA = schema({ owner: NAME });
const SERVER_SCHEMA = schema({ owner: NAME, server: SERVER });
const NAME_SCHEMA = schema({ name: NAME });
const SHARED_SCHEMA = schema({ name: NAME, owner: NAME, server: SERVER });

/** Share codes live from one minute to one year; one day by default. */
const CODE_EXPIRES = { min: 60, max: 525600 * 60, default: 86400 };

const isDict = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * JupyterHub 5 sharing (contract 1.2 Shares row, 1.3, 5): grant, revoke and list shares of a server,
 * issue and revoke share codes, and list what is shared with a user or a group. Every list has the
 * paginated shape. Any change calls `identities.invalidate()`: shares are part of a user's scopes.
 */
export async function shareRoutes(app: FastifyInstance, env: ApiEnv): Promise<void> {
  const { hub } = env;
  const db = hub.db;

  const groupsOf = (name: string) => async () => {
    const u = await findUser(db, name);
    return u ? userGroupNames(db, u.id) : [];
  };
  /** `scope` on the owner (and server, when given): 403 without it, 404 when held only for others. */
  const authorize = (identity: Identity, scope: string, owner: string, server?: string) =>
    requireScopes(identity, [scope], server === undefined ? { user: owner } : { user: owner, server: `${owner}/${server}` }, groupsOf(owner));

  /** The shared server's row (the default server always exists for an existing user), or 404. */
  const requireSpawner = async (owner: string, server: string): Promise<SpawnerRow> => {
    const found = await findSpawner(owner, server);
    if (!found) throw new HubError(404, `No such server: ${owner}/${server}`);
    return found;
  };
  const findSpawner = async (owner: string, server: string): Promise<SpawnerRow | undefined> => {
    const user = await findUser(db, owner);
    if (!user) return undefined;
    if (server === '') return ensureSpawnerRow(db, user.id, '');
    return db.selectFrom('spawners').selectAll().where('user_id', '=', user.id).where('name', '=', server).executeTakeFirst();
  };

  /** JupyterHub's `has_scope` for each (server-filtered) scope to grant: a caller hands out only what it holds. */
  const requireGrantable = async (identity: Identity, scopes: readonly string[], owner: string, server: string) => {
    let groups: readonly string[] | undefined;
    for (const scope of scopes) {
      const base = scope.split('!')[0]!;
      const target = { user: owner, server: `${owner}/${server}` };
      if (hasScope(identity.scopeSet, base, target)) continue;
      groups ??= await groupsOf(owner)();
      if (hasScope(identity.scopeSet, base, { ...target, groups })) continue;
      throw new HubError(403, `Do not have permission to grant share with scope ${scope}`);
    }
  };

  const applyFilter = (scopes: readonly string[] | null, owner: string, server: string): string[] => {
    try {
      return filterShareScopes(scopes ?? [`access:servers!server=${owner}/${server}`], owner, server);
    } catch (err) {
      throw badRequest((err as Error).message);
    }
  };

  /** Always the paginated shape, whatever the Accept header (JupyterHub's share lists). */
  const paginated = async <R, M>(req: FastifyRequest, load: (page: { offset: number; limit: number }) => Promise<{ rows: R[]; total: number }>, present: (r: R) => M) => {
    const page = pageRequest(req, hub.config.hub);
    const { rows, total } = await load(page);
    return pageResponse(req, { ...page, paginated: true }, rows.map(present), total);
  };
  const listSharesPage = (req: FastifyRequest, filter: ShareFilter) =>
    paginated(req, (page) => listShares(db, filter, page), (row) => shareModel(hub, row));

  const changed = (what: string, details: Record<string, unknown>) => {
    hub.identities.invalidate();
    hub.log.info(details, what);
  };

  const methodNotAllowed = (path: string) => new HubError(405, `Method Not Allowed: ${path} only supports GET`, { headers: { Allow: 'GET' } });

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

  // ---- /share-codes/:owner[/:server] ----

  const listCodesPage = (req: FastifyRequest, filter: { ownerId: number } | { spawnerId: number }) =>
    paginated(req, (page) => listShareCodes(db, filter, page), (row) => shareCodeModel(hub, row));

  app.get<OwnerParams>('/share-codes/:owner', { schema: OWNER_SCHEMA }, async (req) => {
    const { identity } = await apiCaller(env, req);
    const { owner } = req.params;
    await authorize(identity, 'read:shares', owner);
    const user = await findUser(db, owner);
    if (!user) throw new HubError(404, `No such user: ${owner}`);
    return listCodesPage(req, { ownerId: user.id });
  });

  app.route<OwnerParams>({
    method: ['POST', 'PATCH', 'DELETE'],
    url: '/share-codes/:owner',
    schema: { ...OWNER_SCHEMA, hide: true } as never,
    handler: async (req) => {
      const { identity } = await apiCaller(env, req);
      await authorize(identity, 'shares', req.params.owner);
      throw methodNotAllowed('/share-codes/:owner');
    },
  });

  app.get<ServerParams>('/share-codes/:owner/:server', { schema: SERVER_SCHEMA }, async (req) => {
    const { identity } = await apiCaller(env, req);
    const { owner, server } = req.params;
    await authorize(identity, 'read:shares', owner, server);
    const spawner = await requireSpawner(owner, server);
    return listCodesPage(req, { spawnerId: spawner.id });
  });

  app.post<ServerParams>('/share-codes/:owner/:server', { schema: SERVER_SCHEMA }, async (req) => {
    const { identity } = await apiCaller(env, req);
    const { owner, server } = req.params;
    await authorize(identity, 'shares', owner, server);
    const body = parseCodeBody(req.body);
    const scopes = applyFilter(body.scopes, owner, server);
    await requireGrantable(identity, scopes, owner, server);
    const spawner = await requireSpawner(owner, server);
    const code = newSecret(32);
    const row = await insertShareCode(db, { spawnerId: spawner.id, codeHash: hashSecret(code), scopes, expiresAt: new Date(Date.now() + body.expiresIn * 1000) });
    hub.log.info({ server: `${owner}/${server}`, id: `sc_${row.id}`, scopes, by: identity.name }, 'created share code');
    return shareCodeModel(hub, row, code);
  });

  app.delete<ServerParams>('/share-codes/:owner/:server', { schema: SERVER_SCHEMA }, async (req, reply) => {
    const { identity } = await apiCaller(env, req);
    const { owner, server } = req.params;
    await authorize(identity, 'shares', owner, server);
    const spawner = await requireSpawner(owner, server);
    const q = (req.query ?? {}) as Record<string, unknown>;
    const arg = (k: string) => (Array.isArray(q[k]) ? (q[k] as unknown[]).at(-1) : q[k]);
    const code = arg('code');
    const id = arg('id');
    await purgeExpiredCodes(db);
    if (code !== undefined) {
      if (typeof code !== 'string' || !code) throw badRequest('code must not be empty');
      const found = await findShareCode(db, hashSecret(code), spawner.id);
      if (!found || !(await deleteShareCode(db, spawner.id, found.id))) throw new HubError(404, 'No matching code found');
      hub.log.info({ server: `${owner}/${server}`, id: `sc_${found.id}`, by: identity.name }, 'deleted share code');
    } else if (id !== undefined) {
      if (typeof id !== 'string' || !id) throw badRequest('id must not be empty');
      const m = /^sc_(\d{1,15})$/.exec(id);
      if (!m || !(await deleteShareCode(db, spawner.id, Number(m[1])))) throw new HubError(404, `No code found matching id=${id}`);
      hub.log.info({ server: `${owner}/${server}`, id, by: identity.name }, 'deleted share code');
    } else {
      const count = await deleteServerShareCodes(db, spawner.id);
      hub.log.info({ server: `${owner}/${server}`, count, by: identity.name }, 'deleted all share codes of a server');
    }
    return reply.code(204).type('text/plain').send();
  });

  app.patch<ServerParams>('/share-codes/:owner/:server', { schema: { ...SERVER_SCHEMA, hide: true } as never }, async (req) => {
    const { identity } = await apiCaller(env, req);
    await authorize(identity, 'shares', req.params.owner, req.params.server);
    throw new HubError(405, 'Method Not Allowed: share codes cannot be changed; delete and create a new one', { headers: { Allow: 'GET, POST, DELETE' } });
  });

  // ---- what is shared with a user or a group ----

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

interface ShareBody {
  user?: string;
  group?: string;
  /** null: the default (grant) or everything (revoke). */
  scopes: string[] | null;
}

/** JupyterHub's ShareGrantRequest / ShareRevokeRequest: `{user | group, scopes?}`, nothing else. */
function parseShareBody(raw: unknown): ShareBody {
  const body = checkDict(raw, ['user', 'group', 'scopes']);
  const out: ShareBody = { scopes: parseScopes(body.scopes) };
  for (const key of ['user', 'group'] as const) {
    const v = body[key];
    if (v === undefined || v === null) continue;
    if (typeof v !== 'string') throw badRequest(`${key} must be a string, not ${JSON.stringify(v).slice(0, 100)}`);
    out[key] = v;
  }
  if (out.user !== undefined && out.group !== undefined) throw badRequest('Expected exactly one of `user` or `group`, not both.');
  if (out.user === undefined && out.group === undefined) throw badRequest('Specify exactly one of `user` or `group`');
  return out;
}

/** JupyterHub's ShareCodeGrantRequest: `{scopes?, expires_in?}` with expires_in in [60 s, 1 year]. */
function parseCodeBody(raw: unknown): { scopes: string[] | null; expiresIn: number } {
  const body = checkDict(raw, ['scopes', 'expires_in']);
  const e = body.expires_in;
  let expiresIn = CODE_EXPIRES.default;
  if (e !== undefined && e !== null) {
    if (typeof e !== 'number' || !Number.isInteger(e) || e < CODE_EXPIRES.min || e > CODE_EXPIRES.max) {
      throw badRequest(`expires_in must be an integer number of seconds from ${CODE_EXPIRES.min} to ${CODE_EXPIRES.max}, not ${JSON.stringify(e).slice(0, 100)}`);
    }
    expiresIn = e;
  }
  return { scopes: parseScopes(body.scopes), expiresIn };
}

function checkDict(raw: unknown, allowed: readonly string[]): Record<string, unknown> {
  const body = raw === undefined || raw === null ? {} : raw;
  if (!isDict(body)) throw badRequest('Body must be a JSON dict');
  const extra = Object.keys(body).filter((k) => !allowed.includes(k));
  if (extra.length) throw badRequest(`Unexpected keys ${JSON.stringify(extra).slice(0, 200)}; allowed: ${allowed.join(', ')}`);
  return body;
}

/** A list of existing scopes, or null when missing or empty. */
function parseScopes(v: unknown): string[] | null {
  if (v === undefined || v === null) return null;
  if (!Array.isArray(v) || !v.every((s) => typeof s === 'string')) throw badRequest('scopes must be a list of strings');
  if (!v.length) return null;
  for (const s of v as string[]) {
    const problem = scopeProblem(s);
    if (problem) throw badRequest(`Scope '${s}' for share does not exist: ${problem}`);
  }
  return v as string[];
}
