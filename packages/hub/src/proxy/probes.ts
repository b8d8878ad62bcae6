import { connect, createServer } from 'node:net';

// Reachability checks around the proxy child: can its ports be bound, does it accept connections,
// does its API answer.

/**
 * The loopback address that reaches a server bound to `ip`: '' / 0.0.0.0 mean all IPv4
 * interfaces (127.0.0.1), '::' all IPv6 ones (::1); brackets around IPv6 literals are dropped.
 */
export function loopbackHost(ip: string): string {
  if (ip === '' || ip === '0.0.0.0') return '127.0.0.1';
  if (ip === '::' || ip === '[::]') return '::1';
  return unbracket(ip);
}

/** {@link loopbackHost} as it goes in a URL (IPv6 in brackets). */
export function hostForUrl(ip: string): string {
  const host = loopbackHost(ip);
  return host.includes(':') ? `[${host}]` : host;
}

/**
 * Resolves when `ip:port` can be bound right now (the probe socket is closed again).
 * configurable-http-proxy only logs a failed listen and keeps running without that server,
 * so the hub checks its ports before spawning it.
 * @throws Error naming `label` and the port (`… public port 127.0.0.1:8000 is already in use`).
 */
export function assertPortFree(ip: string, port: number, label: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', (err: NodeJS.ErrnoException) => {
      const why = err.code === 'EADDRINUSE' ? 'is already in use' : `cannot be used (${err.code ?? err.message})`;
      reject(new Error(`configurable-http-proxy cannot start: ${label} port ${ip || '*'}:${port} ${why}`));
    });
    const host = ip === '' ? undefined : unbracket(ip);
    server.listen({ host, port, exclusive: true }, () => server.close(() => resolve()));
  });
}

/** True when a TCP connection to the server bound to `ip:port` succeeds within `timeoutMs`. */
export function canConnect(ip: string, port: number, timeoutMs = 1_000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: loopbackHost(ip), port });
    socket.setTimeout(timeoutMs);
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
    socket.once('timeout', () => done(false));
  });
}

function unbracket(ip: string): string {
  return ip.replace(/^\[(.*)\]$/, '$1');
}

/**
 * One authenticated request to the CHP API, as cheap as the API allows: the route list filtered to
 * routes inactive since 1970, which is empty, so CHP serialises nothing (and logs a 200 at info
 * level, where a 404 for a missing single route would log a warning every time).
 * 'ok' for 200, 'unauthorized' for 401/403 (another proxy, or a wrong token), else 'down'.
 */
export async function probeChpApi(apiUrl: string, authToken: string, timeoutMs: number): Promise<'ok' | 'unauthorized' | 'down'> {
  try {
    const res = await fetch(`${apiUrl}/api/routes?inactive_since=1970-01-01T00:00:00.000Z`, {
      headers: { Authorization: `token ${authToken}` },
      signal: AbortSignal.timeout(timeoutMs),
    });
    await res.arrayBuffer();
    if (res.status === 401 || res.status === 403) return 'unauthorized';
    return res.ok ? 'ok' : 'down';
  } catch {
    return 'down';
  }
}
