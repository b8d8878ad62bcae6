import net from 'node:net';

/**
 * Asks the kernel for a free TCP port on `ip` by listening on port 0 and closing again.
 * The port could be taken before the server binds it; JupyterHub's random_port has the same race,
 * and the hub notices through its readiness check.
 */
export function findFreePort(ip: string): Promise<number> {
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
