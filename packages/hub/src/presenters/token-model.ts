import type { TokenRow } from '../db/schema.js';
import { identifyScopes } from '../auth/roles.js';
import { expandScopes, intersectScopes, type ScopeSet } from '../auth/scopes.js';
import { isoformat } from '../isoformat.js';

/** What the hub's own (non-OAuth) tokens report as their `oauth_client`: JupyterHub's built-in client. */
export const HUB_CLIENT_DESCRIPTION = 'JupyterHub';

/**
 * The scopes a token really has, expanded, as `/hub/api/user` would report them for it: `inherit`
 * means everything the owner holds; otherwise the token's own scopes within the owner's, plus the
 * identify scopes. Mirrors IdentityResolver so the list shows what the token can actually do.
 */
export function tokenScopes(stored: readonly string[], ownerName: string, owner: { list: readonly string[]; set: ScopeSet }): string[] {
  if (stored.includes('inherit')) return [...owner.list];
  const granted = intersectScopes(expandScopes(stored, ownerName), owner.set);
  return [...new Set([...granted, ...identifyScopes(ownerName)])].sort();
}

/**
 * JupyterHub's token model (contract 1.3): `id` is `a<row id>`, `roles` is always empty (3.0+),
 * `oauth_client` is the issuing client's description (or identifier), and JupyterHub's own client
 * for tokens the hub issued itself. The secret is never part of it (creation adds `token`).
 */
export function tokenModel(
  row: TokenRow,
  ownerName: string,
  owner: { list: readonly string[]; set: ScopeSet },
  clientDescriptions: ReadonlyMap<string, string>,
) {
  return {
    id: `a${row.id}`,
    kind: 'api_token' as const,
    user: ownerName,
    roles: [] as string[],
    scopes: tokenScopes(row.scopes, ownerName, owner),
    note: row.note,
    created: isoformat(row.created),
    last_activity: isoformat(row.last_activity),
    expires_at: isoformat(row.expires_at),
    session_id: row.session_id,
    oauth_client: row.client_id === null ? HUB_CLIENT_DESCRIPTION : clientDescriptions.get(row.client_id) || row.client_id,
  };
}

export type TokenModel = ReturnType<typeof tokenModel>;
