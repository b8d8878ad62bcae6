import net from 'node:net';

/**
 * Asks the kernel for a free TCP port on `ip` by listening on port 0 and closing again. The port
 * could be taken before the server binds it (JupyterHub's random_port has the same race): use
 * reservePort when several servers start at once.
 */
export function findFreePort(ip = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once('error', reject);
    server.listen({ host: ip, port: 0, exclusive: true }, () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => (port > 0 ? resolve(port) : reject(new Error(`could not find a free port on ${ip}`))));
    });
  });
}

/** Ports handed out and not yet bound by their server, for every spawner in this hub process. */
const held = new Map<number, NodeJS.Timeout>();

/** Ten minutes: by then a server has bound its port, or its start has failed. */
const DEFAULT_HOLD_MS = 10 * 60 * 1000;

/**
 * A free port that no other start in this hub was given in the last `holdMs`: the kernel hands a
 * just-closed port to the next caller now and then, and with a class logging in at once two
 * servers would otherwise race for one port (one fails with "address in use").
 */
export async function reservePort(ip = '127.0.0.1', holdMs = DEFAULT_HOLD_MS): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = await findFreePort(ip);
    if (held.has(port)) continue;
    held.set(port, setTimeout(() => held.delete(port), holdMs).unref());
    return port;
  }
  throw new Error(`could not find a free port on ${ip} that is not already given to a starting server`);
}

/** Gives a reserved port back early (its server stopped, or never started). */
export function releasePort(port: number): void {
  clearTimeout(held.get(port));
  held.delete(port);
}
