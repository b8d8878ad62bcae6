import type { FastifyInstance } from 'fastify';
import { hasScope } from '../auth/scopes.js';
import { notAuthorized } from '../errors.js';
import { activityReport, parseReportRange, MAX_RANGE_DAYS } from '../services/activity-report.js';
import { apiCaller, type ApiEnv } from './api-env.js';

const QUERY = {
  type: 'object',
  properties: {
    from: { type: 'string', description: 'Start of the range (inclusive), ISO 8601 or YYYY-MM-DD (UTC). Default: one day (bucket=hour) or 30 days (bucket=day) before `to`.' },
    to: { type: 'string', description: 'End of the range (exclusive), ISO 8601 or YYYY-MM-DD (UTC). Default: now.' },
    bucket: { type: 'string', description: "Time bucket of the series: 'hour' (default) or 'day' (UTC)." },
  },
};

/**
 * GET /hub/api/activity (tshub extension, admin only): aggregates of the activity log over [from, to):
 * active users and running servers per bucket, spawn time percentiles, failures and culls by reason,
 * per-user summaries.
 */
export async function activityReportRoutes(app: FastifyInstance, env: ApiEnv): Promise<void> {
  app.get<{ Querystring: { from?: string; to?: string; bucket?: string } }>('/activity', {
    schema: {
      summary: 'Activity report (tshub extension)',
      description: `Aggregates of the activity log; requires admin:users. Ranges up to ${MAX_RANGE_DAYS} days.`,
      querystring: QUERY,
    },
  }, async (req) => {
    const { identity } = await apiCaller(env, req);
    if (!hasScope(identity.scopeSet, 'admin:users')) throw notAuthorized(['admin:users']);
    return activityReport(env.hub.db, parseReportRange(req.query ?? {}));
  });
}
