import type { JsonObject } from '@tshub/plugin-api';
import type { Identity } from '../auth/identity.js';
import { normalizeUsername } from '../auth/login-flow.js';
import type { GroupRow } from '../db/schema.js';
import { findGroup } from '../db/groups.js';
import { groupMemberNames, groupRoleNames, userIdsByName } from '../db/group-queries.js';
import { HubError, badRequest } from '../errors.js';
import { groupFieldAccess, groupModel } from '../presenters/group-model.js';
import type { ApiEnv } from './api-env.js';

/** Shared pieces of the /hub/api/groups routes: validation, lookups and presenting. */

/** Fastify schema for routes with a `:name` group parameter. */
export const GROUP_PARAMS = {
  params: {
    type: 'object',
    required: ['name'],
    properties: { name: { type: 'string', minLength: 1, maxLength: 255 } },
  },
} as const;

export type GroupParams = { Params: { name: string } };

/** A group name the hub accepts: 1-255 characters, no '/', no control characters. */
export function validGroupName(name: unknown): name is string {
  // eslint-disable-next-line no-control-regex
  return typeof name === 'string' && name.length > 0 && name.length <= 255 && !/[/\u0000-\u001f\u007f-\u009f]/.test(name);
}

export function checkGroupName(name: unknown): string {
  if (!validGroupName(name)) {
    throw badRequest(`Invalid group name: ${JSON.stringify(name)?.slice(0, 300)} (1-255 characters, no '/' or control characters)`);
  }
  return name;
}

const isDict = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Keys a group model in a request may carry, and their types (JupyterHub's `_group_model_types`). */
const MODEL_TYPES: Readonly<Record<string, 'string' | 'list' | 'dict'>> = { name: 'string', users: 'list', roles: 'list', properties: 'dict' };

export interface GroupBody {
  users?: string[];
  properties?: JsonObject;
}

/**
 * JupyterHub's `_check_group_model`: a dict whose keys are known and well-typed, with string user
 * names. `extra` names keys the caller handles itself (`groups` on POST /groups).
 */
export function checkGroupBody(body: unknown, extra: readonly string[] = []): GroupBody {
  if (!isDict(body)) throw badRequest(`Invalid JSON data: ${JSON.stringify(body ?? null).slice(0, 200)}`);
  const unknownKeys = Object.keys(body).filter((k) => !(k in MODEL_TYPES) && !extra.includes(k));
  if (unknownKeys.length) throw badRequest(`Invalid JSON keys: ${JSON.stringify(unknownKeys).slice(0, 200)}`);
  for (const [key, type] of Object.entries(MODEL_TYPES)) {
    const v = body[key];
    if (v === undefined) continue;
    const ok = type === 'string' ? typeof v === 'string' : type === 'list' ? Array.isArray(v) : isDict(v);
    if (!ok) throw badRequest(`group.${key} must be a ${type}, not ${v === null ? 'null' : Array.isArray(v) ? 'list' : typeof v}`);
  }
  const users = body.users as unknown[] | undefined;
  if (users?.some((u) => typeof u !== 'string')) throw badRequest('usernames must be strings');
  const out: GroupBody = {};
  if (users) out.users = users as string[];
  if (body.properties !== undefined) out.properties = body.properties as JsonObject;
  return out;
}

/** User ids for request user names (normalised as at login); 400 "No such user" for the first unknown. */
export async function resolveUsers(env: ApiEnv, names: readonly string[]): Promise<number[]> {
  const res = await userIdsByName(env.hub.db, names.map(normalizeUsername));
  if ('missing' in res) throw badRequest(`No such user: ${res.missing}`);
  return res.ids;
}

/** The group, or JupyterHub's 404 "No such group". */
export async function requireGroup(env: ApiEnv, name: string): Promise<GroupRow> {
  const group = await findGroup(env.hub.db, name);
  if (!group) throw new HubError(404, `No such group: ${name}`);
  return group;
}

/**
 * Group models for `groups` as `identity` may see them. Members and roles of all the groups are each
 * loaded in one query, and only when some group's model will show them.
 */
export async function presentGroups(env: ApiEnv, identity: Identity, groups: readonly GroupRow[]) {
  const access = groups.map((g) => groupFieldAccess(identity.scopeSet, g.name));
  const ids = (need: 'users' | 'roles') => groups.filter((_, i) => access[i]![need]).map((g) => g.id);
  const [members, roles] = await Promise.all([groupMemberNames(env.hub.db, ids('users')), groupRoleNames(env.hub.db, ids('roles'))]);
  return groups.map((g) => groupModel(g, members.get(g.id) ?? [], roles.get(g.id) ?? [], identity.scopeSet));
}

export async function presentGroup(env: ApiEnv, identity: Identity, group: GroupRow) {
  return (await presentGroups(env, identity, [group]))[0]!;
}
