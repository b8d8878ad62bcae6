import type { FastifyRequest } from 'fastify';
import type { HubContext } from '../hub-context.js';
import type { RequestAuth, RequestIdentity } from '../auth/request-auth.js';
import { hasAnyScope, hasScope, type ScopeTarget } from '../auth/scopes.js';
import { missingCredentials, noAccess, notAuthorized } from '../errors.js';
import type { Identity } from '../auth/identity.js';

/** What API route modules receive. */
export interface ApiEnv {
  readonly hub: HubContext;
  readonly auth: RequestAuth;
}

/** The caller of an API request (token or cookie + xsrf), or JupyterHub's 403. */
export async function apiCaller(env: ApiEnv, req: FastifyRequest): Promise<RequestIdentity> {
  const who = await env.auth.identify(req, { allowToken: true });
  if (!who) throw missingCredentials();
  env.auth.checkApiXsrf(req, who.via);
  return who;
}

/**
 * Requires any one of `scopes` on `target`. A caller who holds one of them only for other resources
 * gets 404 (no information leak); one who holds none gets 403. `loadGroups` supplies the target
 * user's groups when a group filter has to be checked.
 */
export async function requireScopes(
  identity: Identity,
  scopes: readonly string[],
  target: ScopeTarget,
  loadGroups?: () => Promise<readonly string[]>,
): Promise<void> {
  if (scopes.some((s) => hasScope(identity.scopeSet, s, target))) return;
  if (loadGroups && scopes.some((s) => [...(identity.scopeSet.get(s) ?? [])].some((f) => f.startsWith('group=')))) {
    const groups = await loadGroups();
    if (scopes.some((s) => hasScope(identity.scopeSet, s, { ...target, groups }))) return;
  }
  if (scopes.some((s) => hasAnyScope(identity.scopeSet, s))) throw noAccess();
  throw notAuthorized(scopes);
}
