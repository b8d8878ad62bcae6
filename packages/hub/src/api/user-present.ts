import type { FastifyRequest } from 'fastify';
import type { HubContext } from '../hub-context.js';
import type { UserRow } from '../db/schema.js';
import { groupNamesByUser, roleNamesByUser, spawnersByUser, type SpawnerSummary } from '../db/user-queries.js';
import { hasScope, type ScopeSet } from '../auth/scopes.js';
import { badRequest, HubError } from '../errors.js';
import { isoformat } from '../isoformat.js';
import { userModel } from '../presenters/user-model.js';
import { serverModel } from '../presenters/server-model.js';
import type { ServerRuntime } from '../services/server-runtime.js';
import { urlEscapePath, userServerPath } from '../url-escape.js';

/** Shared pieces of the users resource: models, body checks, schemas. */

export const NAME_PARAMS = {
  type: 'object',
  properties: { name: { type: 'string', maxLength: 1000 } },
  required: ['name'],
} as const;

export const INCLUDE_STOPPED_QUERY = {
  type: 'object',
  properties: { include_stopped_servers: { type: 'string', maxLength: 100 } },
} as const;

/** 404 for a user that does not exist (callers with a matching scope only; others get noAccess first). */
export const userNotFound = (name: string) => new HubError(404, `User ${name} not found`);

/** Last value of a query argument (tornado's get_argument), or undefined. */
export function queryArg(req: FastifyRequest, name: string): string | undefined {
  const v = (req.query as Record<string, unknown> | undefined)?.[name];
  const last = Array.isArray(v) ? v.at(-1) : v;
  return typeof last === 'string' ? last : undefined;
}

/** JupyterHub: any value but `0`/`false` (case-insensitive) turns it on. */
export function includeStoppedServers(req: FastifyRequest): boolean {
  const v = queryArg(req, 'include_stopped_servers');
  return v !== undefined && !['0', 'false'].includes(v.toLowerCase());
}

const USER_MODEL_TYPES: Record<string, 'str' | 'bool' | 'list' | 'dict'> = { name: 'str', admin: 'bool', groups: 'list', roles: 'list', auth_state: 'dict' };

/** Python's type name of a JSON value, for JupyterHub's error wording. */
export function pyType(v: unknown): string {
  if (v === null || v === undefined) return 'NoneType';
  if (Array.isArray(v)) return 'list';
  if (typeof v === 'boolean') return 'bool';
  if (typeof v === 'number') return Number.isInteger(v) ? 'int' : 'float';
  if (typeof v === 'string') return 'str';
  return 'dict';
}

const brief = (v: unknown) => JSON.stringify(v ?? null).slice(0, 200);

/**
 * JupyterHub's `_check_user_model`: a dict whose keys are among name/admin/groups/roles/auth_state,
 * each of the right type ("Invalid JSON keys", "user.admin must be bool, not: str").
 */
export function checkUserModel(model: unknown): asserts model is Record<string, unknown> {
  if (typeof model !== 'object' || model === null || Array.isArray(model)) throw badRequest(`Invalid JSON data: ${brief(model)}`);
  const unknownKeys = Object.keys(model).filter((k) => !(k in USER_MODEL_TYPES));
  if (unknownKeys.length) throw badRequest(`Invalid JSON keys: ${brief(model)}`);
  for (const [k, v] of Object.entries(model)) {
    const want = USER_MODEL_TYPES[k]!;
    if (pyType(v) !== want) throw badRequest(`user.${k} must be ${want}, not: ${pyType(v)}`);
    if (want === 'list' && (v as unknown[]).some((x) => typeof x !== 'string')) throw badRequest(`user.${k} must be a list of strings`);
  }
}

/** The model of a server that has a row but no active runtime (include_stopped_servers). */
function stoppedServerModel(row: SpawnerSummary, userName: string, hub: HubContext) {
  const base = `${hub.urls.hubPrefix}api/users/${urlEscapePath(userName)}`;
  return {
    name: row.name,
    full_name: `${userName}/${row.name}`,
    last_activity: isoformat(row.last_activity),
    started: isoformat(row.started),
    pending: null,
    ready: false,
    stopped: true,
    url: userServerPath(hub.urls.baseUrl, userName, row.name),
    user_options: row.user_options,
    progress_url: row.name ? `${base}/servers/${urlEscapePath(row.name)}/progress` : `${base}/server/progress`,
    full_url: null,
    full_progress_url: null,
  };
}

export interface PresentOptions {
  includeStopped?: boolean;
  /** Add `auth_state` (single-user GET: when the caller may read it; PATCH: always). */
  authState?: 'if-allowed' | 'always';
}

/**
 * User models for a page of users, filtered by the caller's scopes. Two queries at most whatever
 * the page size (groups; server rows when stopped servers are asked for); runtimes are grouped once.
 */
export async function presentUsers(hub: HubContext, scopes: ScopeSet, users: readonly UserRow[], opts: PresentOptions = {}): Promise<Record<string, unknown>[]> {
  const ids = users.map((u) => u.id);
  const wanted = new Set(ids);
  const runtimes = new Map<number, ServerRuntime[]>();
  for (const rt of hub.servers.all) {
    if (!wanted.has(rt.userId)) continue;
    const list = runtimes.get(rt.userId);
    if (list) list.push(rt);
    else runtimes.set(rt.userId, [rt]);
  }
  const [groups, rows, roles] = await Promise.all([
    groupNamesByUser(hub.db, ids),
    opts.includeStopped ? spawnersByUser(hub.db, ids) : Promise.resolve(null),
    scopes.has('read:roles:users') ? roleNamesByUser(hub.db, ids) : Promise.resolve(null),
  ]);
  return users.map((user) => {
    const g = groups.get(user.id) ?? [];
    const rts = runtimes.get(user.id) ?? [];
    const model = userModel(user, g, rts, hub.urls, scopes, roles?.get(user.id)) as Record<string, unknown>;
    const target = { user: user.name, groups: g };
    if (rows && model.servers && typeof model.servers === 'object') {
      const servers = model.servers as Record<string, unknown>;
      const may = (server: string) => hasScope(scopes, 'read:servers', { ...target, server: `${user.name}/${server}` });
      for (const rt of rts) if (!(rt.serverName in servers) && may(rt.serverName)) servers[rt.serverName] = serverModel(rt, hub.urls.hubPrefix, hub.urls.subdomain?.origin);
      for (const row of rows.get(user.id) ?? []) {
        if (!(row.name in servers) && may(row.name)) servers[row.name] = stoppedServerModel(row, user.name, hub);
      }
    }
    if (opts.authState === 'always' || (opts.authState === 'if-allowed' && hasScope(scopes, 'admin:auth_state', target))) {
      // Decrypted with JUPYTERHUB_CRYPT_KEY (legacy plaintext rows are read as they are).
      model.auth_state = hub.loginServices.state.read(user.auth_state);
    }
    return model;
  });
}
