import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { SpawnContext, SpawnerPlugin } from '@tshub/plugin-api';

/**
 * A spawner that records every SpawnContext it is given and "starts" a tiny HTTP server answering 200
 * to everything (enough for the hub's readiness check). For tests of what the hub hands to spawners
 * and when it asks them to remove a server's stored data.
 */
export function recordingSpawner(kind = 'recording'): { plugin: SpawnerPlugin; contexts: SpawnContext[]; deleted: string[] } {
  const contexts: SpawnContext[] = [];
  /** `user/server` of every deleteForever call. */
  const deleted: string[] = [];
  const plugin: SpawnerPlugin = {
    kind,
    configSchema: { type: 'object', properties: {} },
    create(ctx) {
      contexts.push(ctx);
      let server: Server | null = null;
      return {
        async start() {
          server = createServer((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{}'));
          await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
          return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
        },
        async stop() {
          const s = server;
          server = null;
          if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
        },
        async poll() {
          return server ? { running: true as const } : { running: false as const };
        },
        state: () => ({}),
        async deleteForever() {
          deleted.push(`${ctx.user.name}/${ctx.serverName}`);
        },
      };
    },
  };
  return { plugin, contexts, deleted };
}
