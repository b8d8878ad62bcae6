import type { FastifyInstance } from 'fastify';
import { findUser } from '../db/users.js';
import { badRequest, notFound } from '../errors.js';
import { parseTimestamp } from '../isoformat.js';
import { apiCaller, requireScopes, type ApiEnv } from './api-env.js';

const FUTURE_LIMIT_MS = 59 * 60_000;

/**
 * POST /hub/api/users/:name/activity — what single-user servers report. Timestamps only move forward;
 * more than 59 minutes in the future is refused (contract 1.6).
 */
export async function activityRoutes(app: FastifyInstance, env: ApiEnv): Promise<void> {
  app.post<{ Params: { name: string } }>('/users/:name/activity', async (req, reply) => {
    const { identity } = await apiCaller(env, req);
    const { name } = req.params;
    await requireScopes(identity, ['users:activity'], { user: name });
    const user = identity.kind === 'user' && identity.name === name ? { id: identity.userId } : await findUser(env.hub.db, name);
    if (!user) throw notFound(`No such user: ${name}`);
    const body = req.body as unknown;
    if (!body || typeof body !== 'object' || Array.isArray(body)) throw badRequest('body must be a JSON dict');
    const { last_activity, servers } = body as { last_activity?: unknown; servers?: unknown };
    if (last_activity === undefined && servers === undefined) throw badRequest('body must contain at least one of `last_activity` or `servers`');
    const check = (v: unknown, what: string): Date => {
      const d = parseTimestamp(v);
      if (!d) throw badRequest(`${what} must be an ISO8601 timestamp`);
      if (d.getTime() - Date.now() > FUTURE_LIMIT_MS) throw badRequest(`${what} is more than an hour in the future`);
      return d;
    };
    const updates: Array<{ server: string; when: Date }> = [];
    if (servers !== undefined) {
      if (!servers || typeof servers !== 'object' || Array.isArray(servers)) throw badRequest('servers must be a dict');
      for (const [server, v] of Object.entries(servers as Record<string, unknown>)) {
        const when = check((v as { last_activity?: unknown } | null)?.last_activity, `servers.${server}.last_activity`);
        updates.push({ server, when });
      }
    }
    const userWhen = last_activity !== undefined ? check(last_activity, 'last_activity') : null;
    // Active servers are known in memory; only a stopped server's name needs a lookup. All names are
    // checked before anything is recorded.
    const resolved: Array<{ spawnerId: number; when: Date; server: string }> = [];
    for (const { server, when } of updates) {
      const rt = env.hub.servers.get(user.id, server);
      const id = rt?.spawnerId ?? (await env.hub.db.selectFrom('spawners').select('id').where('user_id', '=', user.id).where('name', '=', server).executeTakeFirst())?.id;
      if (id === undefined) throw badRequest(`No such server '${server}' for user ${name}`);
      resolved.push({ spawnerId: id, when, server });
    }
    for (const { spawnerId, when, server } of resolved) {
      const rt = env.hub.servers.get(user.id, server);
      if (rt && (!rt.lastActivity || rt.lastActivity < when)) rt.lastActivity = when;
      env.hub.activity.recordServer(spawnerId, when);
    }
    const newest = [userWhen, ...updates.map((u) => u.when)].filter((d): d is Date => d !== null).sort((a, b) => b.getTime() - a.getTime())[0];
    if (newest) env.hub.activity.recordUser(user.id, newest);
    reply.code(200);
    return reply.send();
  });
}
