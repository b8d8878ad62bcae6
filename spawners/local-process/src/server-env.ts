/** Pure builders for where a server listens and the environment it gets. */

/** The address the server binds: `Spawner.ip`, or 127.0.0.1 when unset. */
export function bindIp(ip: string): string {
  return ip === '' ? '127.0.0.1' : ip;
}

/** `host` ready for a URL authority: IPv6 literals get brackets. */
function urlHost(host: string): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
}

/** The address the hub connects to: a wildcard bind address is reached over loopback. */
function connectIp(ip: string): string {
  if (ip === '' || ip === '0.0.0.0') return '127.0.0.1';
  if (ip === '::') return '::1';
  return ip;
}

/** What `start()` resolves with: where the hub reaches the server (no path). */
export function serverUrl(ip: string, port: number): string {
  return `http://${urlHost(connectIp(ip))}:${port}`;
}

/**
 * `JUPYTERHUB_SERVICE_URL`: where jupyterhub-singleuser binds and which prefix it serves. Only the
 * spawner knows the port, so the hub leaves this variable to us.
 */
export function serviceUrl(ip: string, port: number, servicePrefix: string): string {
  return `http://${urlHost(bindIp(ip))}:${port}${servicePrefix}`;
}

/**
 * The server's environment: the hub's (all `JUPYTERHUB_*`, env_keep, Spawner.environment), then the
 * service URL, then HOME/USER/SHELL/... for the account. The account variables win, as in
 * JupyterHub's `user_env`, because a wrong HOME would put the user's files somewhere else.
 */
export function buildServerEnv(
  hubEnv: Readonly<Record<string, string>>,
  serviceUrlValue: string,
  userEnv: Readonly<Record<string, string>>,
): Record<string, string> {
  return { ...hubEnv, JUPYTERHUB_SERVICE_URL: serviceUrlValue, ...userEnv };
}
