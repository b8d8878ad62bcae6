import type { FastifyRequest } from 'fastify';
import type { Identity } from '../auth/identity.js';
import { hasScope } from '../auth/scopes.js';
import { filterShareScopes } from '../auth/share-scopes.js';
import type { SpawnerRow } from '../db/schema.js';
import { listShares, type ShareFilter } from '../db/share-queries.js';
import { ensureSpawnerRow } from '../db/spawners.js';
import { findUser, userGroupNames } from '../db/users.js';
import { HubError, badRequest } from '../errors.js';
import { shareModel } from '../presenters/share-model.js';
import { scopeProblem } from '../services/sync-roles.js';
import { requireScopes, type ApiEnv } from './api-env.js';
import { pageRequest, pageResponse } from './pagination.js';

/** Shared pieces of the sharing routes (shares, share codes, shared-with listings): schemas, lookups, bodies. */

export type OwnerParams = { Params: { owner: string } };
export type ServerParams = { Params: { owner: string; server: string } };
export type NameParams = { Params: { name: string } };
export type SharedParams = { Params: { name: string; owner: string; server: string } };

const NAME = { type: 'string', minLength: 1, maxLength: 1000 } as const;
/** `''` is the default server (`/shares/alice/`). */
const SERVER = { type: 'string', maxLength: 1000 } as const;
const schema = (properties: Record<string, object>) => ({ params: { type: 'object', required: Object.keys(properties), properties } }) as const;
export const OWNER_SCHEMA = schema({ owner: NAME });
export const SERVER_SCHEMA = schema({ owner: NAME, server: SERVER });
export const NAME_SCHEMA = schema({ name: NAME });
export const SHARED_SCHEMA = schema({ name: NAME, owner: NAME, server: SERVER });

/** Share codes live from one minute to one year; one day by default. */
const CODE_EXPIRES = { min: 60, max: 525600 * 60, default: 86400 };

const isDict = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

export type ShareSupport = ReturnType<typeof shareSupport>;

/** The helpers every sharing route closes over, bound to one hub. */
export function shareSupport(env: ApiEnv) {
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

  return { groupsOf, authorize, requireSpawner, findSpawner, requireGrantable, applyFilter, paginated, listSharesPage, changed, methodNotAllowed };
}

interface ShareBody {
  user?: string;
  group?: string;
  /** null: the default (grant) or everything (revoke). */
  scopes: string[] | null;
}

/** JupyterHub's ShareGrantRequest / ShareRevokeRequest: `{user | group, scopes?}`, nothing else. */
export function parseShareBody(raw: unknown): ShareBody {
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
export function parseCodeBody(raw: unknown): { scopes: string[] | null; expiresIn: number } {
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
