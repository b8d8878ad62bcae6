import { isoformat } from '../isoformat.js';
import type { ServerRuntime } from '../services/server-runtime.js';
import { urlEscapePath } from '../url-escape.js';

/** JupyterHub's server model for an active (or failed) server runtime. */
export function serverModel(rt: ServerRuntime, hubPrefix: string) {
  const base = `${hubPrefix}api/users/${urlEscapePath(rt.userName)}`;
  return {
    name: rt.serverName,
    full_name: `${rt.userName}/${rt.serverName}`,
    last_activity: isoformat(rt.lastActivity ?? rt.started),
    started: isoformat(rt.started),
    pending: rt.pending,
    ready: rt.ready,
    stopped: !rt.active,
    url: rt.prefix,
    user_options: rt.userOptions,
    progress_url: rt.serverName ? `${base}/servers/${urlEscapePath(rt.serverName)}/progress` : `${base}/server/progress`,
    full_url: null,
    full_progress_url: null,
  };
}
