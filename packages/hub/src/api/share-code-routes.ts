import type { FastifyInstance, FastifyRequest } from 'fastify';
import { hashSecret, newSecret } from '../auth/secrets.js';
import { deleteServerShareCodes, deleteShareCode, findShareCode, insertShareCode, listShareCodes, purgeExpiredCodes } from '../db/share-queries.js';
import { findUser } from '../db/users.js';
import { HubError, badRequest } from '../errors.js';
import { shareCodeModel } from '../presenters/share-model.js';
import { apiCaller, type ApiEnv } from './api-env.js';
import { OWNER_SCHEMA, SERVER_SCHEMA, parseCodeBody, type OwnerParams, type ServerParams, type ShareSupport } from './share-support.js';

/** /share-codes/:owner[/:server]: list, issue and revoke share codes (JupyterHub 5 sharing). */
export async function shareCodeRoutes(app: FastifyInstance, env: ApiEnv, support: ShareSupport): Promise<void> {
  const { hub } = env;
  const db = hub.db;
  const { authorize, requireSpawner, requireGrantable, applyFilter, paginated, methodNotAllowed } = support;

  const listCodesPage = (req: FastifyRequest, filter: { ownerId: number } | { spawnerId: number }) =>
    paginated(req, (page) => listShareCodes(db, filter, page), (row) => shareCodeModel(hub, row));

  app.get<OwnerParams>('/share-codes/:owner', { schema: OWNER_SCHEMA }, async (req) => {
    const { identity } = await apiCaller(env, req);
    const { owner } = req.params;
    await authorize(identity, 'read:shares', owner);
    const user = await findUser(db, owner);
    if (!user) throw new HubError(404, `No such user: ${owner}`);
    return listCodesPage(req, { ownerId: user.id });
  });

  app.route<OwnerParams>({
    method: ['POST', 'PATCH', 'DELETE'],
    url: '/share-codes/:owner',
    schema: { ...OWNER_SCHEMA, hide: true } as never,
    handler: async (req) => {
      const { identity } = await apiCaller(env, req);
      await authorize(identity, 'shares', req.params.owner);
      throw methodNotAllowed('/share-codes/:owner');
    },
  });

  app.get<ServerParams>('/share-codes/:owner/:server', { schema: SERVER_SCHEMA }, async (req) => {
    const { identity } = await apiCaller(env, req);
    const { owner, server } = req.params;
    await authorize(identity, 'read:shares', owner, server);
    const spawner = await requireSpawner(owner, server);
    return listCodesPage(req, { spawnerId: spawner.id });
  });

  app.post<ServerParams>('/share-codes/:owner/:server', { schema: SERVER_SCHEMA }, async (req) => {
    const { identity } = await apiCaller(env, req);
    const { owner, server } = req.params;
    await authorize(identity, 'shares', owner, server);
    const body = parseCodeBody(req.body);
    const scopes = applyFilter(body.scopes, owner, server);
    await requireGrantable(identity, scopes, owner, server);
    const spawner = await requireSpawner(owner, server);
    const code = newSecret(32);
    const row = await insertShareCode(db, { spawnerId: spawner.id, codeHash: hashSecret(code), scopes, expiresAt: new Date(Date.now() + body.expiresIn * 1000) });
    hub.log.info({ server: `${owner}/${server}`, id: `sc_${row.id}`, scopes, by: identity.name }, 'created share code');
    return shareCodeModel(hub, row, code);
  });

  app.delete<ServerParams>('/share-codes/:owner/:server', { schema: SERVER_SCHEMA }, async (req, reply) => {
    const { identity } = await apiCaller(env, req);
    const { owner, server } = req.params;
    await authorize(identity, 'shares', owner, server);
    const spawner = await requireSpawner(owner, server);
    const q = (req.query ?? {}) as Record<string, unknown>;
    const arg = (k: string) => (Array.isArray(q[k]) ? (q[k] as unknown[]).at(-1) : q[k]);
    const code = arg('code');
    const id = arg('id');
    await purgeExpiredCodes(db);
    if (code !== undefined) {
      if (typeof code !== 'string' || !code) throw badRequest('code must not be empty');
      const found = await findShareCode(db, hashSecret(code), spawner.id);
      if (!found || !(await deleteShareCode(db, spawner.id, found.id))) throw new HubError(404, 'No matching code found');
      hub.log.info({ server: `${owner}/${server}`, id: `sc_${found.id}`, by: identity.name }, 'deleted share code');
    } else if (id !== undefined) {
      if (typeof id !== 'string' || !id) throw badRequest('id must not be empty');
      const m = /^sc_(\d{1,15})$/.exec(id);
      if (!m || !(await deleteShareCode(db, spawner.id, Number(m[1])))) throw new HubError(404, `No code found matching id=${id}`);
      hub.log.info({ server: `${owner}/${server}`, id, by: identity.name }, 'deleted share code');
    } else {
      const count = await deleteServerShareCodes(db, spawner.id);
      hub.log.info({ server: `${owner}/${server}`, count, by: identity.name }, 'deleted all share codes of a server');
    }
    return reply.code(204).type('text/plain').send();
  });

  app.patch<ServerParams>('/share-codes/:owner/:server', { schema: { ...SERVER_SCHEMA, hide: true } as never }, async (req) => {
    const { identity } = await apiCaller(env, req);
    await authorize(identity, 'shares', req.params.owner, req.params.server);
    throw new HubError(405, 'Method Not Allowed: share codes cannot be changed; delete and create a new one', { headers: { Allow: 'GET, POST, DELETE' } });
  });
}
