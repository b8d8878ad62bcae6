import type { FastifyInstance, FastifyReply } from 'fastify';
import type { JsonObject } from '@tshub/plugin-api';
import { findUser, userGroupNames } from '../db/users.js';
import { badRequest, notFound } from '../errors.js';
import { spawnFailureError } from '../services/run-spawn.js';
import type { ServerRuntime } from '../services/server-runtime.js';
import { apiCaller, requireScopes, type ApiEnv } from './api-env.js';
import { streamProgress } from './progress-stream.js';

type ServerParams = { name: string; server?: string };

/** Start, stop and watch a user's default and named servers (contract 1.2, 1.5). */
export async function serverRoutes(app: FastifyInstance, env: ApiEnv): Promise<void> {
  const { hub } = env;

  const resolve = async (params: ServerParams, scope: string, identity: Parameters<typeof requireScopes>[0]) => {
    const server = params.server ?? '';
    await requireScopes(identity, [scope], { user: params.name, server: `${params.name}/${server}` }, async () => {
      const u = await findUser(hub.db, params.name);
      return u ? userGroupNames(hub.db, u.id) : [];
    });
    const user = await findUser(hub.db, params.name);
    if (!user) throw notFound(`No such user: ${params.name}`);
    if (server && !hub.config.hub.allow_named_servers) throw badRequest('Named servers are not enabled.');
    return { user, server };
  };

  const start = async (req: { params: ServerParams; body: unknown }, reply: FastifyReply, identity: Parameters<typeof requireScopes>[0]) => {
    const { user, server } = await resolve(req.params, 'servers', identity);
    const body = req.body ?? {};
    if (typeof body !== 'object' || Array.isArray(body)) throw badRequest('user_options must be a JSON dict');
    const existing = hub.servers.get(user.id, server);
    if (existing?.phase === 'spawning') return reply.code(202).send();
    if (server && !existing?.active) {
      const limit = hub.config.hub.named_server_limit_per_user;
      const named = hub.servers.forUser(user.id).filter((r) => r.serverName && r.active).length;
      if (limit > 0 && named >= limit) throw badRequest(`User ${user.name} already has the maximum of ${limit} named servers.  One must be deleted before a new server can be created`);
    }
    const rt = await hub.servers.spawn({ id: user.id, name: user.name, admin: user.admin, groups: await userGroupNames(hub.db, user.id) }, server, body as JsonObject);
    await settledWithin(rt, hub.config.hub.slow_spawn_timeout * 1000);
    if (rt.phase === 'failed') throw spawnFailureError(rt.failure, { user: user.name, byOther: identity.name !== user.name });
    return reply.code(rt.ready ? 201 : 202).send();
  };

  const stop = async (req: { params: ServerParams; body: unknown }, reply: FastifyReply, identity: Parameters<typeof requireScopes>[0]) => {
    const { user, server } = await resolve(req.params, 'delete:servers', identity);
    const remove = Boolean((req.body as { remove?: unknown } | undefined)?.remove);
    if (!server && remove) throw badRequest('Cannot delete the default server');
    const rt = hub.servers.get(user.id, server);
    if (server && !rt) {
      const row = await hub.db.selectFrom('spawners').select('id').where('user_id', '=', user.id).where('name', '=', server).executeTakeFirst();
      if (!row) throw notFound(`${user.name} has no server named '${server}'`);
    }
    if (rt?.phase === 'stopping') return reply.code(202).type('text/plain').send();
    const done = rt ? hub.servers.stop(rt) : Promise.resolve();
    const finished = await Promise.race([done.then(() => true), delay(hub.config.hub.slow_stop_timeout * 1000).then(() => false)]);
    if (remove) {
      const removeRow = async () => {
        await hub.servers.deleteForever(user, server);
        await hub.db.deleteFrom('spawners').where('user_id', '=', user.id).where('name', '=', server).execute();
        hub.identities.invalidate(); // its shares went with it
      };
      if (finished) await removeRow();
      else void done.then(removeRow);
    }
    return reply.code(finished ? 204 : 202).type('text/plain').send();
  };

  const progress = async (req: { params: ServerParams; raw: import('node:http').IncomingMessage }, reply: FastifyReply, identity: Parameters<typeof requireScopes>[0]) => {
    const { user, server } = await resolve(req.params, 'read:servers', identity);
    const rt = hub.servers.get(user.id, server);
    if (!rt || (!rt.pending && !rt.ready && rt.phase !== 'failed')) throw badRequest(`${user.name}'s server${server ? ` ${server}` : ''} is not starting`);
    streamProgress(req.raw, reply, rt);
  };

  app.post<{ Params: ServerParams }>('/users/:name/server', async (req, reply) => start(req, reply, (await apiCaller(env, req)).identity));
  app.post<{ Params: ServerParams }>('/users/:name/servers/:server', async (req, reply) => start(req, reply, (await apiCaller(env, req)).identity));
  app.delete<{ Params: ServerParams }>('/users/:name/server', async (req, reply) => stop(req, reply, (await apiCaller(env, req)).identity));
  app.delete<{ Params: ServerParams }>('/users/:name/servers/:server', async (req, reply) => stop(req, reply, (await apiCaller(env, req)).identity));
  app.get<{ Params: ServerParams }>('/users/:name/server/progress', async (req, reply) => progress(req, reply, (await apiCaller(env, req)).identity));
  app.get<{ Params: ServerParams }>('/users/:name/servers/:server/progress', async (req, reply) => progress(req, reply, (await apiCaller(env, req)).identity));
}

const delay = (ms: number) => new Promise<void>((r) => setTimeout(r, ms).unref());

/** Waits until the spawn settles or `ms` pass. */
async function settledWithin(rt: ServerRuntime, ms: number): Promise<void> {
  await Promise.race([rt.spawnDone, delay(ms)]);
}
