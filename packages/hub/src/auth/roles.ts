import { ADMIN_SCOPES, expandScopes, toScopeSet, type ScopeSet } from './scopes.js';

/**
 * The scopes a user holds through the default roles: `user` (self) for everyone, `admin` for admins.
 * Returns the expanded list and its parsed set. (Configurable roles come with load_roles.)
 */
export function userScopes(name: string, admin: boolean): { list: string[]; set: ScopeSet } {
  const granted = admin ? ['self', ...ADMIN_SCOPES] : ['self'];
  const list = [...expandScopes(granted, name)].sort();
  return { list, set: toScopeSet(list) };
}

/** Scopes a user server's own API token gets (JupyterHub's default `server` role). */
export function serverTokenScopes(user: string, server: string): string[] {
  return [`users:activity!user=${user}`, `access:servers!server=${user}/${server}`];
}

/** Scopes `/hub/api/user` grants any credential so it can identify its owner. */
export function identifyScopes(user: string): string[] {
  return [`read:users:name!user=${user}`, `read:users:groups!user=${user}`];
}
