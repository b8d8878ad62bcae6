import type { UserRow } from '../db/schema.js';
import { hasScope, type ScopeSet } from '../auth/scopes.js';
import { isoformat } from '../isoformat.js';
import type { ServerRuntime } from '../services/server-runtime.js';
import { serverModel } from './server-model.js';
import type { HubUrls } from '../hub-context.js';

/**
 * JupyterHub's user model, with fields filtered by what the caller may read (contract 1.3):
 * read:users -> everything but servers; read:users:name -> name, admin; read:users:groups -> groups;
 * read:users:activity -> last_activity; read:servers -> servers (and server, pending).
 */
export function userModel(
  user: UserRow,
  groups: readonly string[],
  runtimes: readonly ServerRuntime[],
  urls: Pick<HubUrls, 'hubPrefix' | 'subdomain'>,
  scopes: ScopeSet | null,
  /** Role names held directly (load_roles), when known; `user` and `admin` are implied by the row. */
  directRoles: readonly string[] = [],
) {
  const target = { user: user.name, groups };
  const can = (s: string) => scopes === null || hasScope(scopes, s, target);
  const active = runtimes.filter((r) => r.active);
  const def = active.find((r) => r.serverName === '');
  const full = {
    kind: 'user' as const,
    name: user.name,
    admin: user.admin,
    roles: [...new Set([...(user.admin ? ['admin'] : []), 'user', ...directRoles])].sort(),
    groups: [...groups],
    server: def?.ready ? def.publicUrl : null,
    pending: def?.pending ?? null,
    created: isoformat(user.created),
    last_activity: isoformat(user.last_activity),
    servers: Object.fromEntries(active.map((r) => [r.serverName, serverModel(r, urls.hubPrefix, urls.subdomain?.origin)])),
  };
  if (scopes === null) return full;
  const out: Record<string, unknown> = { kind: 'user' };
  if (can('read:users')) Object.assign(out, full);
  if (!can('read:servers')) delete out.servers;
  if (can('read:users:name')) Object.assign(out, { name: full.name, admin: full.admin });
  if (can('read:users:groups')) Object.assign(out, { name: full.name, groups: full.groups });
  if (can('read:users:activity')) Object.assign(out, { name: full.name, last_activity: full.last_activity });
  if (can('read:servers')) Object.assign(out, { name: full.name, servers: full.servers, server: full.server, pending: full.pending });
  if (can('read:roles:users')) Object.assign(out, { name: full.name, roles: full.roles, admin: full.admin });
  return out;
}
