/**
 * JupyterHub's scopes: expansion through the hierarchy, filters (`!user=`, `!server=`, `!group=`,
 * `!service=`) and access checks. Held scopes are kept parsed (base scope -> filters) so a check is a
 * couple of map lookups on the hot path.
 */

/** Scope -> the scopes it implies (contract section 5). */
const SUBSCOPES: Readonly<Record<string, readonly string[]>> = {
  'admin:users': ['admin:auth_state', 'users', 'read:roles:users', 'delete:users'],
  users: ['read:users', 'list:users', 'users:activity'],
  'read:users': ['read:users:name', 'read:users:groups', 'read:users:activity'],
  'list:users': ['read:users:name'],
  'users:activity': ['read:users:activity'],
  'read:roles': ['read:roles:users', 'read:roles:services', 'read:roles:groups'],
  'admin:servers': ['admin:server_state', 'servers'],
  servers: ['read:servers', 'delete:servers'],
  'read:servers': ['read:users:name'],
  tokens: ['read:tokens'],
  'admin:groups': ['groups', 'read:roles:groups', 'delete:groups'],
  groups: ['read:groups', 'list:groups'],
  'list:groups': ['read:groups:name'],
  'read:groups': ['read:groups:name'],
  'admin:services': ['list:services', 'read:services', 'read:roles:services'],
  'list:services': ['read:services:name'],
  'read:services': ['read:services:name'],
  shares: ['access:servers', 'read:shares', 'users:shares', 'groups:shares'],
  'users:shares': ['read:users:shares'],
  'groups:shares': ['read:groups:shares'],
};

const LEAVES = [
  'admin-ui', 'admin:auth_state', 'delete:users', 'read:users:name', 'read:users:groups', 'read:users:activity',
  'read:roles:users', 'read:roles:services', 'read:roles:groups', 'admin:server_state', 'delete:servers', 'read:tokens',
  'read:groups:name', 'delete:groups', 'read:services:name', 'read:hub', 'access:servers', 'access:services',
  'read:shares', 'read:users:shares', 'read:groups:shares', 'proxy', 'shutdown', 'read:metrics',
];

/** Every base scope name JupyterHub defines. */
export const ALL_SCOPES: ReadonlySet<string> = new Set([...Object.keys(SUBSCOPES), ...Object.values(SUBSCOPES).flat(), ...LEAVES]);

/** The scopes of the `self` metascope; each is filtered to the owner. */
const SELF_SCOPES = [
  'read:users', 'read:users:name', 'read:users:groups', 'users:activity', 'read:users:activity', 'servers',
  'delete:servers', 'read:servers', 'tokens', 'read:tokens', 'access:servers', 'users:shares', 'read:users:shares', 'read:shares',
];

/** Default role `admin`. */
export const ADMIN_SCOPES = [
  'admin-ui', 'admin:users', 'admin:servers', 'tokens', 'admin:groups', 'list:services', 'read:services', 'read:hub',
  'proxy', 'shutdown', 'access:services', 'access:servers', 'read:roles', 'read:metrics', 'admin:services', 'shares',
];

/** Splits `read:users!user=alice` into its base and filter (`user=alice`, or '' when unfiltered). */
export function splitScope(scope: string): { base: string; filter: string } {
  const i = scope.indexOf('!');
  return i < 0 ? { base: scope, filter: '' } : { base: scope.slice(0, i), filter: scope.slice(i + 1) };
}

/**
 * Expands scopes (and the `self` metascope, for a user named `owner`) to the full set they imply,
 * keeping filters. As in JupyterHub, a `!server` filter is not carried onto `read:users*` subscopes.
 */
export function expandScopes(scopes: Iterable<string>, owner?: string): Set<string> {
  const out = new Set<string>();
  const visit = (scope: string) => {
    if (out.has(scope)) return;
    const { base, filter } = splitScope(scope);
    if (base === 'self') {
      if (owner !== undefined) for (const s of SELF_SCOPES) visit(`${s}!user=${owner}`);
      return;
    }
    out.add(scope);
    for (const sub of SUBSCOPES[base] ?? []) {
      if (filter.startsWith('server=') && sub.startsWith('read:users')) continue;
      visit(filter ? `${sub}!${filter}` : sub);
    }
  };
  for (const s of scopes) visit(s);
  return out;
}

/** Parsed held scopes: base -> filters (an entry '' means unfiltered). */
export type ScopeSet = ReadonlyMap<string, ReadonlySet<string>>;

export function toScopeSet(expanded: Iterable<string>): ScopeSet {
  const m = new Map<string, Set<string>>();
  for (const s of expanded) {
    const { base, filter } = splitScope(s);
    let set = m.get(base);
    if (!set) m.set(base, (set = new Set()));
    set.add(filter);
  }
  return m;
}

/** The resource a request touches, for filter matching. */
export interface ScopeTarget {
  user?: string;
  /** `user/servername`. */
  server?: string;
  /** Groups the target user belongs to, or the target group. */
  groups?: readonly string[];
  service?: string;
}

/** Whether `held` grants `base` on `target` (any filter that matches). */
export function hasScope(held: ScopeSet, base: string, target: ScopeTarget = {}): boolean {
  const filters = held.get(base);
  if (!filters) return false;
  if (filters.has('')) return true;
  for (const f of filters) {
    const eq = f.indexOf('=');
    const kind = f.slice(0, eq);
    const value = f.slice(eq + 1);
    if (kind === 'user' && target.user === value) return true;
    if (kind === 'server' && target.server === value) return true;
    if (kind === 'group' && target.groups?.includes(value)) return true;
    if (kind === 'service' && target.service === value) return true;
  }
  return false;
}

/** Whether `held` has `base` at all (any filter): used to tell "403 no scope" from "404 not yours". */
export function hasAnyScope(held: ScopeSet, base: string): boolean {
  return held.has(base);
}

/**
 * Keeps only the requested scopes that the owner also holds (a token never gets more than its owner).
 * A filtered request is kept when the owner holds the base unfiltered, with the same filter, or with a
 * user filter covering a requested server filter.
 */
export function intersectScopes(requested: Iterable<string>, owner: ScopeSet): Set<string> {
  const out = new Set<string>();
  for (const s of requested) {
    const { base, filter } = splitScope(s);
    const held = owner.get(base);
    if (!held) continue;
    if (held.has('') || held.has(filter)) out.add(s);
    else if (filter.startsWith('server=')) {
      const user = filter.slice('server='.length).split('/')[0];
      if (held.has(`user=${user}`)) out.add(s);
    }
  }
  return out;
}
