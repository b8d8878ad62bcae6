import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { Authenticator, SpawnerPlugin } from '@tshub/plugin-api';
import type { TshubConfig } from './config/schema.js';
import type { Database } from './db/schema.js';
import type { IdentityResolver } from './auth/identity.js';
import type { AuthServices } from './auth/auth-services.js';
import type { ServerManager } from './services/server-manager.js';
import type { RouteManager } from './services/route-manager.js';
import type { TemplateRenderer } from './pages/template-renderer.js';
import type { HubEvents } from './services/hub-events.js';
import type { ActivityBuffer } from './services/activity-buffer.js';
import type { SubdomainHost } from './subdomain-host.js';

/** URLs the hub needs everywhere. `hubUrl` is known once the hub listens. */
export interface HubUrls {
  /** e.g. '/' or '/jhub/' */
  readonly baseUrl: string;
  /** baseUrl + 'hub/' */
  readonly hubPrefix: string;
  /** Where the hub process listens, e.g. http://127.0.0.1:8081 (set at listen time). */
  hubUrl: string;
  /** The hub API URL user servers use (hub_connect_url or hubUrl, + hubPrefix + 'api'). */
  hubApiUrl: string;
  /** The public origin when configured (public_url), else ''. */
  readonly publicOrigin: string;
  /** hub.subdomain_host parsed: each user's servers on their own host; null when off. */
  readonly subdomain?: SubdomainHost | null;
}

/**
 * The hub's collaborators, wired once by buildHub and handed explicitly to routes and services (no
 * string-keyed settings bag).
 */
export interface HubContext {
  readonly config: TshubConfig;
  readonly db: Kysely<Database>;
  readonly log: Logger;
  readonly urls: HubUrls;
  readonly version: string;
  readonly identities: IdentityResolver;
  readonly authenticator: Authenticator;
  readonly authenticatorKind: string;
  /** The login machinery around the authenticator: auth_state, refresh_user, rate limits. */
  readonly loginServices: AuthServices;
  readonly spawnerPlugin: SpawnerPlugin<any>;
  readonly servers: ServerManager;
  readonly routes: RouteManager;
  readonly renderer: TemplateRenderer;
  /** What happens in the hub (activity log, metrics and event log lines subscribe). */
  readonly events: HubEvents;
  /** Coalesced activity writes (reports from servers). */
  readonly activity: ActivityBuffer;
}

/** The JupyterHub version tshub speaks (clients compare it; the idle culler needs >= 1.3). */
export const JUPYTERHUB_VERSION = '5.3.0';
