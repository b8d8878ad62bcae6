import type { JsonObject } from '@tshub/plugin-api';
import { hasScope, type ScopeSet } from '../auth/scopes.js';

export interface GroupModel {
  kind: 'group';
  name: string;
  users: string[];
  roles: string[];
  properties: JsonObject;
}

/** Which model keys each scope lets the caller read (JupyterHub 5's `group_model` access map). */
const ACCESS: ReadonlyArray<readonly [string, readonly (keyof GroupModel)[]]> = [
  ['read:groups', ['kind', 'name', 'users', 'properties']],
  ['read:groups:name', ['kind', 'name']],
  ['read:roles:groups', ['kind', 'name', 'roles']],
];

/** What a caller may see of groups: decides which parts of the model need loading at all. */
export function groupFieldAccess(scopes: ScopeSet | null, name: string): { users: boolean; roles: boolean } {
  const can = (s: string) => scopes === null || hasScope(scopes, s, { groups: [name] });
  return { users: can('read:groups'), roles: can('read:roles:groups') };
}

/**
 * JupyterHub's group model `{kind, name, users, roles, properties}`, with keys filtered by the
 * caller's scopes on this group (contract 1.3): read:groups -> name, users, properties;
 * read:groups:name -> name; read:roles:groups -> roles. `scopes` null means unfiltered.
 */
export function groupModel(
  group: { name: string; properties: JsonObject },
  users: readonly string[],
  roles: readonly string[],
  scopes: ScopeSet | null,
): Partial<GroupModel> {
  const full: GroupModel = {
    kind: 'group',
    name: group.name,
    users: [...users].sort(),
    roles: [...roles].sort(),
    properties: group.properties ?? {},
  };
  if (scopes === null) return full;
  const allowed = new Set<keyof GroupModel>();
  for (const [scope, keys] of ACCESS) {
    if (hasScope(scopes, scope, { groups: [group.name] })) for (const k of keys) allowed.add(k);
  }
  const out: Partial<GroupModel> = {};
  for (const k of ['kind', 'name', 'users', 'roles', 'properties'] as const) {
    if (allowed.has(k)) (out as Record<string, unknown>)[k] = full[k];
  }
  return out;
}
