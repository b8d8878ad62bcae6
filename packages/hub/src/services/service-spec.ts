import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { JsonObject } from '@tshub/plugin-api';
import type { IdentityResolver } from '../auth/identity.js';
import type { RoleConfig, ServiceConfig } from '../config/schema.js';
import type { Database, ServiceRow } from '../db/schema.js';
import type { HubUrls } from '../hub-context.js';
import { urlEscapePath } from '../url-escape.js';
import type { RouteManager } from './route-manager.js';
import { scopeProblem } from './sync-roles.js';

/** Notes of the tokens the registry owns (replaced at every start-up). */
export const CONFIG_TOKEN_NOTE = 'from config';
export const GENERATED_TOKEN_NOTE = 'generated at startup';
export const API_TOKEN_NOTE = 'from api';

/** A service as the hub runs it: its database row plus what only the config knows (command, env). */
export interface ServiceRecord {
  readonly name: string;
  readonly admin: boolean;
  /** Where the service listens, or null (then it has no route and no prefix). */
  readonly url: string | null;
  /** `<base_url>services/<name>/`, also its routespec; '' without url. */
  readonly prefix: string;
  /** Non-empty for managed services (the hub runs it). */
  readonly command: readonly string[];
  readonly environment: Readonly<Record<string, string>>;
  readonly cwd: string;
  /** System user a managed service runs as ('' = the hub's own). */
  readonly user: string;
  readonly info: JsonObject;
  readonly display: boolean;
  readonly fromConfig: boolean;
  /** Null when the service has no OAuth client. */
  readonly oauth: { clientId: string; redirectUri: string; allowedScopes: readonly string[]; noConfirm: boolean } | null;
  /**
   * The service's API token secret, known only for services configured with one and for managed
   * services (generated each start); it is handed to a managed service's process.
   */
  readonly apiToken: string | null;
}

/** What reports the pid of a managed service (the managed-services supervisor). */
export interface ServiceProcesses {
  pidOf(name: string): number;
}

export interface ServiceRegistryDeps {
  db: Kysely<Database>;
  log: Logger;
  urls: HubUrls;
  identities: IdentityResolver;
  routes: RouteManager;
  /** load_roles, to resolve the deprecated `oauth_roles` of a service into scopes. */
  roles?: readonly RoleConfig[];
}

/** A service spec from config or from POST /hub/api/services/:name. */
export type ServiceSpec = ServiceConfig;

const EXPLICIT_OAUTH_KEYS = ['oauth_client_id', 'oauth_redirect_uri', 'oauth_no_confirm', 'oauth_client_allowed_scopes', 'oauth_roles'] as const;

/** `<base_url>services/<name>/` */
export function servicePrefix(urls: HubUrls, name: string): string {
  return `${urls.baseUrl}services/${urlEscapePath(name)}/`;
}

export function specProblem(spec: ServiceSpec): string | null {
  if (!/^[^/\\\s]+$/.test(spec.name) || spec.name.length > 255) return `invalid name '${spec.name}' (no '/', '\\' or whitespace)`;
  if (spec.url !== undefined && spec.url !== '') {
    let u: URL;
    try {
      u = new URL(spec.url);
    } catch {
      return `url '${spec.url}' is not a URL`;
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') return `url '${spec.url}' must be http or https`;
  }
  if (spec.oauth_client_id !== undefined && !spec.oauth_client_id.startsWith('service-')) return `oauth_client_id must start with 'service-'`;
  for (const s of spec.oauth_client_allowed_scopes ?? []) {
    const p = scopeProblem(s);
    if (p) return `oauth_client_allowed_scopes: ${p}`;
  }
  const explicit = EXPLICIT_OAUTH_KEYS.some((k) => spec[k] !== undefined);
  if (explicit && !spec.url && !spec.oauth_redirect_uri) {
    return 'OAuth is configured (oauth_* options) but the service has neither a url nor an oauth_redirect_uri';
  }
  if (spec.user !== undefined && !spec.command?.length) return "'user' only applies to managed services (with a command)";
  return null;
}

export function oauthAvailable(spec: ServiceSpec): boolean {
  return Boolean(spec.url) || Boolean(spec.oauth_redirect_uri) || EXPLICIT_OAUTH_KEYS.some((k) => spec[k] !== undefined);
}

export function clientIdOf(spec: ServiceSpec): string {
  return spec.oauth_client_id || `service-${spec.name}`;
}

export function redirectUriOf(urls: HubUrls, spec: ServiceSpec): string {
  return spec.oauth_redirect_uri || `${servicePrefix(urls, spec.name)}oauth_callback`;
}

export function buildRecord(urls: HubUrls, row: ServiceRow, spec: ServiceSpec, oauth: ServiceRecord['oauth'], apiToken: string | null): ServiceRecord {
  return {
    name: row.name,
    admin: row.admin,
    url: row.url,
    prefix: row.url ? servicePrefix(urls, row.name) : '',
    command: spec.command ?? [],
    environment: spec.environment ?? {},
    cwd: spec.cwd ?? '',
    user: spec.user ?? '',
    info: row.info ?? {},
    display: row.display,
    fromConfig: row.from_config,
    oauth,
    apiToken,
  };
}
