import { isoformat } from '../isoformat.js';
import type { ServerRuntime } from '../services/server-runtime.js';
import { urlEscapePath } from '../url-escape.js';

/**
 * JupyterHub's server model for an active (or failed) server runtime. With subdomain_host the `url`
 * is absolute (the user's own host) and so is `full_url`; `hubOrigin` then makes `full_progress_url`.
 */
export function serverModel(rt: ServerRuntime, hubPrefix: string, hubOrigin = '') {
  const base = `${hubPrefix}api/users/${urlEscapePath(rt.userName)}`;
  const progressUrl = rt.serverName ? `${base}/servers/${urlEscapePath(rt.serverName)}/progress` : `${base}/server/progress`;
  return {
    name: rt.serverName,
    full_name: `${rt.userName}/${rt.serverName}`,
    last_activity: isoformat(rt.lastActivity ?? rt.started),
    started: isoformat(rt.started),
    pending: rt.pending,
    ready: rt.ready,
    stopped: !rt.active,
    url: rt.publicUrl,
    user_options: rt.userOptions,
    progress_url: progressUrl,
    full_url: rt.publicUrl !== rt.prefix ? rt.publicUrl : null,
    full_progress_url: hubOrigin && rt.publicUrl !== rt.prefix ? `${hubOrigin}${progressUrl}` : null,
  };
}
