import type { FastifyInstance } from 'fastify';
import type { Kysely } from 'kysely';
import type { Identity } from '../auth/identity.js';
import { resolveBareFilter, userRoleScopes } from '../auth/role-scopes.js';
import { expandScopes, intersectScopes, splitScope, type ScopeSet } from '../auth/scopes.js';
import type { Database, TokenRow, UserRow } from '../db/schema.js';
import { insertToken } from '../db/tokens.js';
import { findUser, userGroupNames } from '../db/users.js';
import { badRequest, HubError, notFound } from '../errors.js';
import { tokenModel } from '../presenters/token-model.js';
import { scopeProblem } from '../services/sync-roles.js';
import { apiCaller, requireScopes, type ApiEnv } from './api-env.js';

type UserParams = { name: string };
type TokenParams = { name: string; id: string };

const userParams = {
  type: 'object',
  properties: { name: { type: 'string', minLength: 1 } },
  required: ['name'],
} as const;
const tokenParams = {
  type: 'object',
  properties: { name: { type: 'string', minLength: 1 }, id: { type: 'string', minLength: 1 } },
  required: ['name', 'id'],
} as const;

/** Latest expiry we can store and render as JupyterHub does (isoformat has 4-digit years). */
const MAX_EXPIRY = Date.UTC(9999, 11, 31);

/**
 * A user's API tokens (contract 1.2 tokens rows, 1.7): list, create (the secret is shown once), read
 * and revoke. A new token never holds more than its owner, nor more than the credential that asked
 * for it.
 */
export async function tokenRoutes(app: FastifyInstance, env: ApiEnv): Promise<void> {
  const { hub } = env;
  const db = hub.db;

  /** Checks `scope` on the path's user (404/403 as JupyterHub), then loads the user (404). */
  const authorize = async (identity: Identity, name: string, scope: string): Promise<UserRow> => {
    let user: UserRow | undefined | null = null;
    await requireScopes(identity, [scope], { user: name }, async () => {
      user = await findUser(db, name);
      return user ? userGroupNames(db, user.id) : [];
    });
    user ??= await findUser(db, name);
    if (!user) throw notFound(`No such user: ${name}`);
    return user;
  };

  const ownerScopes = (user: UserRow) => userRoleScopes(db, { id: user.id, name: user.name, admin: user.admin });

  const present = async (user: UserRow, rows: readonly TokenRow[]) => {
    const owner = await ownerScopes(user);
    const clientIds = [...new Set(rows.map((r) => r.client_id).filter((c): c is string => c !== null))];
    const clients = clientIds.length
      ? await db.selectFrom('oauth_clients').select(['identifier', 'description']).where('identifier', 'in', clientIds).execute()
      : [];
    const descriptions = new Map(clients.map((c) => [c.identifier, c.description]));
    return rows.map((r) => tokenModel(r, user.name, owner, descriptions));
  };

  /** The user's token `a<id>`, or JupyterHub's 404 for a bad id, a missing, expired or foreign token. */
  const findOwnToken = async (user: UserRow, tokenId: string): Promise<TokenRow> => {
    const missing = () => notFound(`No such token ${tokenId} for user ${user.name}`);
    const m = /^a(\d{1,15})$/.exec(tokenId);
    if (!m) throw missing();
    const row = await db.selectFrom('api_tokens').selectAll().where('id', '=', Number(m[1])).where('user_id', '=', user.id).executeTakeFirst();
    if (!row) throw missing();
    if (isExpired(row)) {
      await db.deleteFrom('api_tokens').where('id', '=', row.id).execute();
      throw missing();
    }
    return row;
  };

  app.get<{ Params: UserParams }>('/users/:name/tokens', { schema: { params: userParams } }, async (req) => {
    const { identity } = await apiCaller(env, req);
    const user = await authorize(identity, req.params.name, 'read:tokens');
    const now = new Date();
    await db.deleteFrom('api_tokens').where('user_id', '=', user.id).where('expires_at', '<=', now).execute();
    const rows = (await db.selectFrom('api_tokens').selectAll().where('user_id', '=', user.id).execute()).filter((r) => !isExpired(r, now));
    const key = (r: TokenRow) => (r.last_activity ?? r.created).getTime();
    rows.sort((a, b) => key(a) - key(b) || a.created.getTime() - b.created.getTime() || a.id - b.id);
    return { api_tokens: await present(user, rows) };
  });

  app.post<{ Params: UserParams; Body: unknown }>('/users/:name/tokens', { schema: { params: userParams } }, async (req, reply) => {
    const { identity } = await apiCaller(env, req);
    const user = await authorize(identity, req.params.name, 'tokens');
    const body = req.body ?? {};
    if (typeof body !== 'object' || Array.isArray(body)) throw badRequest('Body must be a JSON dict or empty');
    const spec = body as Record<string, unknown>;

    for (const key of ['roles', 'scopes'] as const) {
      const value = spec[key];
      if (value === undefined || value === null) continue;
      if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) {
        throw badRequest(`token ${key} must be null or a list of strings, not ${JSON.stringify(value)}`);
      }
    }
    const requestedScopes = spec.scopes as string[] | null | undefined;
    const requestedRoles = spec.roles as string[] | null | undefined;
    if (requestedScopes != null && requestedRoles != null) throw badRequest('Can only assign one of scopes or roles when creating tokens.');

    const maxSeconds = hub.config.hub.token_expires_in_max_seconds;
    // With a maximum configured, it is also the default (JupyterHub 5.1).
    const expiresIn = (spec.expires_in === undefined || spec.expires_in === null || spec.expires_in === 0) && maxSeconds > 0 ? maxSeconds : spec.expires_in;
    if (maxSeconds > 0 && typeof expiresIn === 'number' && expiresIn > maxSeconds) {
      throw badRequest(`token expires_in: ${expiresIn} must not exceed ${maxSeconds}`);
    }
    let expiresAt: Date | null = null;
    if (expiresIn !== undefined && expiresIn !== null && expiresIn !== 0) {
      if (typeof expiresIn !== 'number' || !Number.isSafeInteger(expiresIn) || expiresIn < 0) {
        throw badRequest(`token expires_in must be null or a positive integer (seconds), not ${JSON.stringify(expiresIn)}`);
      }
      expiresAt = new Date(Date.now() + expiresIn * 1000);
      if (!(expiresAt.getTime() <= MAX_EXPIRY)) throw badRequest(`token expires_in: ${expiresIn} is too large`);
    }

    const noteValue = spec.note;
    if (noteValue !== undefined && noteValue !== null && typeof noteValue !== 'string') throw badRequest('token note must be a string');
    let note = noteValue ? noteValue : 'Requested via api';
    if (!noteValue && identity.userId !== user.id) note += ` by user ${identity.name}`;

    // What to store: the requested scopes, the scopes of the requested roles, or the `token` role (inherit).
    let raw: string[];
    if (requestedScopes != null) raw = [...requestedScopes];
    else if (requestedRoles != null) raw = await roleScopes(db, requestedRoles);
    else raw = ['inherit'];
    for (const s of raw) {
      const problem = scopeProblem(s);
      if (problem) throw badRequest(`Scope '${s}' for token does not exist: ${problem}`);
    }
    const stored = [...new Set(raw.flatMap((s) => resolveForOwner(s, user.name)))];

    const owner = await ownerScopes(user);
    const explicit = expandScopes(stored.filter((s) => s !== 'inherit'), user.name);
    const kept = intersectScopes(explicit, owner.set);
    const notOwned = [...explicit].filter((s) => !kept.has(s)).sort();
    if (notOwned.length) throw badRequest(`Not assigning requested scopes ${notOwned.join(',')} not held by User ${user.name}`);

    // A credential may only hand out what it holds itself (the default, inherit, is all of the owner's).
    const effective = stored.includes('inherit') ? owner.list : [...explicit];
    const beyondCaller = await excessScopes(db, effective, identity.scopeSet);
    if (beyondCaller.length) {
      const hint = requestedScopes == null && requestedRoles == null ? ' (a token without `scopes` gets all of its owner\'s permissions; request only scopes you hold)' : '';
      throw badRequest(`Not assigning requested scopes ${beyondCaller.join(',')} not held by the requester (user ${identity.name})${hint}`);
    }

    const { id, token } = await insertToken(db, { userId: user.id, note, scopes: stored, expiresAt });
    const row = await db.selectFrom('api_tokens').selectAll().where('id', '=', id).executeTakeFirst();
    if (!row) throw new HubError(500, 'Failed to create token');
    if (identity.userId !== user.id) hub.log.info({ requester: identity.name, user: user.name }, 'user requested API token for another user');
    else hub.log.info({ user: user.name }, 'user requested new API token');
    const [model] = await present(user, [row]);
    return reply.code(201).send({ ...model, token });
  });

  app.get<{ Params: TokenParams }>('/users/:name/tokens/:id', { schema: { params: tokenParams } }, async (req) => {
    const { identity } = await apiCaller(env, req);
    const user = await authorize(identity, req.params.name, 'read:tokens');
    const row = await findOwnToken(user, req.params.id);
    const [model] = await present(user, [row]);
    return model;
  });

  app.delete<{ Params: TokenParams }>('/users/:name/tokens/:id', { schema: { params: tokenParams } }, async (req, reply) => {
    const { identity } = await apiCaller(env, req);
    const user = await authorize(identity, req.params.name, 'tokens');
    const row = await findOwnToken(user, req.params.id);
    // Revoking an OAuth token revokes everything that client holds for this user.
    const deleted = row.client_id !== null
      ? await db.deleteFrom('api_tokens').where('user_id', '=', user.id).where('client_id', '=', row.client_id).returning('id').execute()
      : await db.deleteFrom('api_tokens').where('id', '=', row.id).returning('id').execute();
    hub.identities.invalidate();
    hub.log.info({ user: user.name, token: req.params.id, client: row.client_id, count: deleted.length }, 'deleted API token(s)');
    return reply.code(204).type('text/plain').send();
  });
}

function isExpired(row: TokenRow, now = new Date()): boolean {
  return row.expires_at !== null && row.expires_at.getTime() <= now.getTime();
}

/**
 * Bare filters refer to the owner: `!user` becomes `!user=<owner>`. `!server` and `!service` without a
 * value only mean something for OAuth clients and services, so a user's API token drops such scopes
 * (as JupyterHub does when it expands them). A bare `!group` means nothing at all.
 */
function resolveForOwner(scope: string, owner: string): string[] {
  const { filter } = splitScope(scope);
  if (filter === 'group') throw badRequest(`Scope filter '!group' in scope '${scope}' for token needs a group name (!group=<name>)`);
  if (filter === 'server' || filter === 'service') return [];
  return [resolveBareFilter(scope, owner)];
}

/** The scopes of the named roles (JupyterHub's deprecated `roles` on token requests); 400 for an unknown role. */
async function roleScopes(db: Kysely<Database>, names: readonly string[]): Promise<string[]> {
  if (!names.length) return [];
  const rows = await db.selectFrom('roles').select(['name', 'scopes']).where('name', 'in', [...names]).execute();
  const byName = new Map(rows.map((r) => [r.name, r.scopes]));
  const out: string[] = [];
  for (const name of names) {
    const scopes = byName.get(name);
    if (!scopes) throw badRequest(`No such role: ${name}`);
    out.push(...scopes);
  }
  return out;
}

/**
 * The scopes in `wanted` that `held` does not cover. A held filter covers a wanted one when it is
 * unfiltered or equal; a `user=` filter covers that user's servers; a `group=` filter covers its
 * members and their servers (membership read from the database).
 */
async function excessScopes(db: Kysely<Database>, wanted: Iterable<string>, held: ScopeSet): Promise<string[]> {
  const groupCache = new Map<string, Promise<string[]>>();
  const groupsOf = (name: string) => {
    let p = groupCache.get(name);
    if (!p) {
      p = findUser(db, name).then((u) => (u ? userGroupNames(db, u.id) : []));
      groupCache.set(name, p);
    }
    return p;
  };
  const out: string[] = [];
  for (const s of wanted) {
    const { base, filter } = splitScope(s);
    const filters = held.get(base);
    if (filters && (filters.has('') || filters.has(filter))) continue;
    if (filters && (filter.startsWith('user=') || filter.startsWith('server='))) {
      const user = filter.startsWith('user=') ? filter.slice('user='.length) : filter.slice('server='.length).split('/')[0]!;
      if (filters.has(`user=${user}`)) continue;
      const groupFilters = [...filters].filter((f) => f.startsWith('group='));
      if (groupFilters.length) {
        const groups = await groupsOf(user);
        if (groupFilters.some((f) => groups.includes(f.slice('group='.length)))) continue;
      }
    }
    out.push(s);
  }
  return out.sort();
}
