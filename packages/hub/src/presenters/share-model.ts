import type { HubContext } from '../hub-context.js';
import { isoformat } from '../isoformat.js';
import { resolveShareScopes } from '../auth/share-scopes.js';
import type { ShareCodeView, ShareView } from '../db/share-queries.js';
import { userServerPath } from '../url-escape.js';

/** What the share presenters read from the hub: URLs and whether a server is ready. */
export type ShareModelContext = Pick<HubContext, 'urls' | 'servers'>;

interface ServerRef {
  owner_id: number;
  owner_name: string;
  server_name: string;
}

/** The truncated server model shares carry: `{user: {name}, name, url, full_url, ready}`. */
export function shareServerModel(ctx: ShareModelContext, ref: ServerRef) {
  const url = userServerPath(ctx.urls.baseUrl, ref.owner_name, ref.server_name);
  return {
    user: { name: ref.owner_name },
    name: ref.server_name,
    url,
    full_url: ctx.urls.publicOrigin ? ctx.urls.publicOrigin + url : null,
    ready: Boolean(ctx.servers.get(ref.owner_id, ref.server_name)?.ready),
  };
}

/** JupyterHub's Share model (contract 1.3). */
export function shareModel(ctx: ShareModelContext, share: ShareView) {
  return {
    server: shareServerModel(ctx, share),
    scopes: resolveShareScopes(share.scopes, share.owner_name, share.server_name),
    user: share.user_name !== null ? { name: share.user_name } : null,
    group: share.group_name !== null ? { name: share.group_name } : null,
    kind: share.group_name !== null ? 'group' : 'user',
    created_at: isoformat(share.created),
  };
}

/** Where a share code is accepted: `{hub}/accept-share?code=...`, absolute only with public_url. */
export function acceptUrls(ctx: ShareModelContext, code: string): { accept_url: string; full_accept_url: string | null } {
  const accept = `${ctx.urls.hubPrefix}accept-share?${new URLSearchParams({ code }).toString()}`;
  return { accept_url: accept, full_accept_url: ctx.urls.publicOrigin ? ctx.urls.publicOrigin + accept : null };
}

/** JupyterHub's ShareCode model; the code itself (and its URLs) only when it has just been created. */
export function shareCodeModel(ctx: ShareModelContext, code: ShareCodeView, secret?: string) {
  const model = {
    server: shareServerModel(ctx, code),
    scopes: resolveShareScopes(code.scopes, code.owner_name, code.server_name),
    id: `sc_${code.id}`,
    created_at: isoformat(code.created),
    expires_at: isoformat(code.expires_at),
    exchange_count: code.exchange_count,
    last_exchanged_at: isoformat(code.last_exchanged_at),
  };
  return secret === undefined ? model : { ...model, code: secret, ...acceptUrls(ctx, secret) };
}
