import type { Authenticator } from '@tshub/plugin-api';
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { AuthenticatorConfig } from '../config/schema.js';
import type { Database } from '../db/schema.js';
import { AuthStateCrypt } from './auth-state-crypt.js';
import { AuthStateStore } from './auth-state-store.js';
import type { LoginDeps } from './login-flow.js';
import { LoginRateLimiter } from './login-rate-limit.js';
import { UserRefresher } from './user-refresh.js';

/**
 * The login machinery shared by the login pages, the REST API (auth_state), request authentication
 * (refresh on age) and the spawn pipeline (refresh, auth_state for the spawner). One per hub.
 */
export interface AuthServices {
  readonly state: AuthStateStore;
  readonly refresher: UserRefresher;
  readonly limiter: LoginRateLimiter;
  readonly login: LoginDeps;
}

export function createAuthServices(deps: {
  db: Kysely<Database>;
  authenticator: Authenticator;
  config: AuthenticatorConfig;
  kind: string;
  implicitAllowAll: boolean;
  crypt: AuthStateCrypt;
  log: Logger;
  invalidate: () => void;
}): AuthServices {
  const { db, config, log, invalidate, authenticator } = deps;
  const state = new AuthStateStore(db, deps.crypt, log);
  const limit = config.login_rate_limit ?? {};
  return {
    state,
    refresher: new UserRefresher({ db, config, authState: state, authenticator, log, invalidate }),
    limiter: new LoginRateLimiter({ maxFailures: limit.max_failures ?? 5, windowSeconds: limit.window_seconds ?? 300 }),
    login: { db, authenticator, config, kind: deps.kind, implicitAllowAll: deps.implicitAllowAll, authState: state, log, invalidate },
  };
}
