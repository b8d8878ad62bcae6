import type { JsonObject } from '@tshub/plugin-api';
import { hasScope, type ScopeSet } from '../auth/scopes.js';

export interface ServiceModel {
  kind: 'service';
  name: string;
  admin: boolean;
  roles: string[];
  url: string;
  prefix: string;
  command: string[];
  pid: number;
  info: JsonObject;
  display: boolean;
}

/** Which model keys each scope lets the caller read (JupyterHub's `service_model` access map). */
const ACCESS: ReadonlyArray<readonly [string, readonly (keyof ServiceModel)[]]> = [
  ['read:services', ['kind', 'name', 'admin', 'url', 'prefix', 'command', 'pid', 'info', 'display']],
  ['read:services:name', ['kind', 'name', 'admin']],
  ['read:roles:services', ['kind', 'name', 'roles', 'admin']],
];

const ORDER: readonly (keyof ServiceModel)[] = ['kind', 'name', 'admin', 'roles', 'url', 'prefix', 'command', 'pid', 'info', 'display'];

/** Whether the caller may see anything of service `name` (any of the model's read scopes). */
export function canReadService(scopes: ScopeSet, name: string): boolean {
  return ACCESS.some(([scope]) => hasScope(scopes, scope, { service: name }));
}

/**
 * JupyterHub's service model `{kind, name, admin, roles, url, prefix, command, pid, info, display}`,
 * with keys filtered by the caller's scopes on this service (contract 1.3): read:services -> all but
 * roles; read:services:name -> kind, name, admin; read:roles:services -> roles. `prefix` is
 * `/services/<name>/`, or '' for a service without url; `pid` is 0 unless the hub runs it.
 * `scopes` null means unfiltered.
 */
export function serviceModel(
  service: { name: string; admin: boolean; url: string | null; prefix: string; command: readonly string[]; info: JsonObject; display: boolean },
  roles: readonly string[],
  pid: number,
  scopes: ScopeSet | null,
): Partial<ServiceModel> {
  const full: ServiceModel = {
    kind: 'service',
    name: service.name,
    admin: service.admin,
    roles: [...roles],
    url: service.url ?? '',
    prefix: service.url ? service.prefix : '',
    command: [...service.command],
    pid,
    info: service.info ?? {},
    display: service.display,
  };
  if (scopes === null) return full;
  const allowed = new Set<keyof ServiceModel>();
  for (const [scope, keys] of ACCESS) {
    if (hasScope(scopes, scope, { service: service.name })) for (const k of keys) allowed.add(k);
  }
  const out: Partial<ServiceModel> = {};
  for (const k of ORDER) if (allowed.has(k)) (out as Record<string, unknown>)[k] = full[k];
  return out;
}
