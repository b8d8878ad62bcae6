import type { FastifyInstance } from 'fastify';
import type { PageEnv } from './page-env.js';

/** Local-account pages (sign-up, change password, approvals, unlocks), when the authenticator offers them. */
export async function accountPages(app: FastifyInstance, env: PageEnv): Promise<void> {
  if (!env.hub.authenticator.accounts) return;
  void app;
}
