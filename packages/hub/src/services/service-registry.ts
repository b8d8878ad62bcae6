import type { Kysely, Transaction } from 'kysely';
import type { Logger } from 'pino';
import { HubError, type JsonObject } from '@tshub/plugin-api';
import { hashSecret } from '../auth/secrets.js';
import { DEFAULT_ROLES } from '../auth/default-roles.js';
import type { IdentityResolver } from '../auth/identity.js';
import type { RoleConfig, ServiceConfig } from '../config/schema.js';
import type { Database, ServiceRow } from '../db/schema.js';
import { insertToken } from '../db/tokens.js';
import type { HubUrls } from '../hub-context.js';
import { urlEscapePath } from '../url-escape.js';
import type { RouteManager, RouteSource } from './route-manager.js';
import { scopeProblem } from './sync-roles.js';

/** Notes of the tokens the registry owns (replaced at every start-up). */
const CONFIG_TOKEN_NOTE = 'from config';
const GENERATED_TOKEN_NOTE = 'generated at startup';
const API_TOKEN_NOTE = 'from api';

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

/**
 * JupyterHub's services (contract section 4): syncs `config.services` into the database at start-up
 * (rows, hashed API tokens, OAuth clients), keeps the runtime ones added through the API, and tells
 * the route manager to route `/services/<name>/` to each service that has a url.
 */
export class ServiceRegistry implements RouteSource {
  readonly #deps: ServiceRegistryDeps;
  readonly #services = new Map<string, ServiceRecord>();
  processes: ServiceProcesses | null = null;

  constructor(deps: ServiceRegistryDeps) {
    this.#deps = deps;
  }

  /** `<base_url>services/<name>/` */
  prefixOf(name: string): string {
    return `${this.#deps.urls.baseUrl}services/${urlEscapePath(name)}/`;
  }

  get(name: string): ServiceRecord | undefined {
    return this.#services.get(name);
  }

  /** Every service, in name order. */
  all(): ServiceRecord[] {
    return [...this.#services.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /** Services the hub runs itself. */
  managed(): ServiceRecord[] {
    return this.all().filter((s) => s.command.length > 0);
  }

  /** The pid of a managed service's process, 0 when it is not running or not managed. */
  pidOf(name: string): number {
    return this.processes?.pidOf(name) ?? 0;
  }

  *readyRoutes() {
    for (const s of this.#services.values()) {
      if (s.url) yield { routespec: s.prefix, target: s.url, data: { service: s.name } };
    }
  }

  *pendingRoutespecs(): Iterable<string> {}

  /**
   * Start-up: makes the database match `config.services` (JupyterHub's init_services) and loads every
   * service, including those added at runtime before, into memory. Must run before syncRoles, which
   * may name services.
   */
  async syncFromConfig(specs: readonly ServiceSpec[]): Promise<void> {
    const { db, log } = this.#deps;
    const problems: string[] = [];
    const seen = new Set<string>();
    specs.forEach((spec, i) => {
      if (seen.has(spec.name)) problems.push(`services[${i}].name: service '${spec.name}' is defined twice`);
      seen.add(spec.name);
      const p = this.#specProblem(spec);
      if (p) problems.push(`services[${i}] (${spec.name}): ${p}`);
    });
    const clientIds = specs.filter((s) => this.#oauthAvailable(s)).map((s) => this.#clientIdOf(s));
    const dupClient = clientIds.find((id, i) => clientIds.indexOf(id) !== i);
    if (dupClient) problems.push(`services: the OAuth client id '${dupClient}' is used by two services`);
    if (problems.length) throw new HubError(500, `Invalid services:\n  - ${problems.join('\n  - ')}`);

    const records = new Map<string, ServiceRecord>();
    await db.transaction().execute(async (tx) => {
      const existing = await tx.selectFrom('services').select(['id', 'name', 'from_config']).execute();
      for (const old of existing) {
        if (old.from_config && !seen.has(old.name)) {
          await this.#deleteServiceRows(tx, old.name);
          log.info({ service: old.name }, 'service removed from config; deleted');
        }
      }
      for (const spec of specs) {
        const row = await this.#upsertRow(tx, spec, true);
        const apiToken = await this.#syncTokens(tx, spec);
        const oauth = await this.#syncClient(tx, spec, apiToken);
        records.set(spec.name, this.#record(row, spec, oauth, apiToken));
      }
      // Services added through the API earlier stay (JupyterHub 5 keeps them in the database).
      const runtime = await tx.selectFrom('services').selectAll().where('from_config', '=', false).execute();
      for (const row of runtime) {
        const client = await tx.selectFrom('oauth_clients').selectAll().where('service_name', '=', row.name).executeTakeFirst();
        const oauth = client ? { clientId: client.identifier, redirectUri: client.redirect_uri, allowedScopes: client.allowed_scopes, noConfirm: row.oauth_no_confirm } : null;
        records.set(row.name, this.#record(row, { name: row.name }, oauth, null));
      }
    });
    this.#services.clear();
    for (const [name, rec] of records) this.#services.set(name, rec);
    this.#deps.identities.invalidate();
    if (records.size) {
      log.info({ services: [...records.values()].map((s) => ({ name: s.name, managed: s.command.length > 0, url: s.url })) }, 'services loaded');
    }
  }

  /** POST /hub/api/services/:name: an unmanaged service added at runtime (kept across restarts). */
  async addRuntime(spec: ServiceSpec): Promise<ServiceRecord> {
    const { db, log } = this.#deps;
    if (spec.command?.length) throw new HubError(400, `Can not create managed service ${spec.name} at runtime`);
    const problem = this.#specProblem(spec);
    if (problem) throw new HubError(400, `Invalid service ${spec.name}: ${problem}`);
    if (this.#services.has(spec.name)) throw new HubError(409, `Service ${spec.name} already exists`);
    const record = await db.transaction().execute(async (tx) => {
      if (await tx.selectFrom('services').select('id').where('name', '=', spec.name).executeTakeFirst()) {
        throw new HubError(409, `Service ${spec.name} already exists`);
      }
      const row = await this.#upsertRow(tx, spec, false);
      if (spec.api_token) {
        const clash = await tx.selectFrom('api_tokens').select('id').where('hashed', '=', hashSecret(spec.api_token)).executeTakeFirst();
        if (clash) throw new HubError(400, `Invalid service ${spec.name}: the api_token is already in use`);
        await insertToken(tx, { userId: null, serviceName: spec.name, note: API_TOKEN_NOTE, scopes: ['inherit'], secret: spec.api_token });
      }
      const oauth = await this.#syncClient(tx, spec, spec.api_token ?? null);
      return this.#record(row, spec, oauth, spec.api_token ?? null);
    });
    this.#services.set(record.name, record);
    this.#deps.identities.invalidate();
    if (record.url) {
      await this.#deps.routes.add(record.prefix, record.url, { service: record.name }).catch((err) => {
        log.warn({ err: String(err), service: record.name }, 'could not add the proxy route of a new service; the next route check will');
      });
    }
    log.info({ service: record.name, url: record.url }, 'service added');
    return record;
  }

  /** DELETE /hub/api/services/:name. Services from the config file cannot be deleted (405). */
  async removeRuntime(name: string): Promise<void> {
    const { db, log } = this.#deps;
    const record = this.#services.get(name);
    if (!record) throw new HubError(404, `Service ${name} does not exist`);
    if (record.fromConfig) throw new HubError(405, `Service ${name} is not modifiable at runtime`);
    await db.transaction().execute((tx) => this.#deleteServiceRows(tx, name));
    this.#services.delete(name);
    this.#deps.identities.invalidate();
    if (record.url) {
      await this.#deps.routes.delete(record.prefix).catch((err) => {
        log.warn({ err: String(err), service: name }, 'could not delete the proxy route of a removed service; the next route check will');
      });
    }
    log.info({ service: name }, 'service deleted');
  }

  /** Role names a service holds (`admin` for admin services), sorted. */
  async roleNames(name: string): Promise<string[]> {
    const rows = await this.#deps.db
      .selectFrom('service_roles')
      .innerJoin('services', 'services.id', 'service_roles.service_id')
      .innerJoin('roles', 'roles.id', 'service_roles.role_id')
      .select('roles.name')
      .where('services.name', '=', name)
      .execute();
    const names = new Set(rows.map((r) => r.name));
    if (this.#services.get(name)?.admin) names.add('admin');
    return [...names].sort();
  }

  #specProblem(spec: ServiceSpec): string | null {
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

  #oauthAvailable(spec: ServiceSpec): boolean {
    return Boolean(spec.url) || Boolean(spec.oauth_redirect_uri) || EXPLICIT_OAUTH_KEYS.some((k) => spec[k] !== undefined);
  }

  #clientIdOf(spec: ServiceSpec): string {
    return spec.oauth_client_id || `service-${spec.name}`;
  }

  async #upsertRow(tx: Transaction<Database>, spec: ServiceSpec, fromConfig: boolean): Promise<ServiceRow> {
    const oauth = this.#oauthAvailable(spec);
    const values = {
      admin: spec.admin ?? false,
      url: spec.url || null,
      info: JSON.stringify(spec.info ?? {}),
      display: spec.display ?? true,
      oauth_client_id: oauth ? this.#clientIdOf(spec) : null,
      oauth_redirect_uri: oauth ? this.#redirectUriOf(spec) : null,
      oauth_no_confirm: spec.oauth_no_confirm ?? false,
      oauth_client_allowed_scopes: JSON.stringify(spec.oauth_client_allowed_scopes ?? []),
      from_config: fromConfig,
    };
    return tx
      .insertInto('services')
      .values({ name: spec.name, ...values })
      .onConflict((oc) => oc.column('name').doUpdateSet(values))
      .returningAll()
      .executeTakeFirstOrThrow();
  }

  #redirectUriOf(spec: ServiceSpec): string {
    return spec.oauth_redirect_uri || `${this.prefixOf(spec.name)}oauth_callback`;
  }

  /**
   * The service's start-up tokens: the configured api_token (stored hashed, replacing the previous
   * config token), or a fresh one for a managed service without one. Returns the secret, if known.
   */
  async #syncTokens(tx: Transaction<Database>, spec: ServiceSpec): Promise<string | null> {
    const keepHash = spec.api_token ? hashSecret(spec.api_token) : null;
    let q = tx
      .deleteFrom('api_tokens')
      .where('service_name', '=', spec.name)
      .where('user_id', 'is', null)
      .where('note', 'in', [CONFIG_TOKEN_NOTE, GENERATED_TOKEN_NOTE]);
    if (keepHash) q = q.where('hashed', '!=', keepHash);
    await q.execute();
    if (spec.api_token) {
      const existing = await tx.selectFrom('api_tokens').select(['id', 'user_id', 'service_name']).where('hashed', '=', keepHash!).executeTakeFirst();
      if (existing && (existing.user_id !== null || existing.service_name !== spec.name)) {
        throw new HubError(500, `services: the api_token of service '${spec.name}' already belongs to another ${existing.user_id !== null ? 'user' : 'service'}`);
      }
      if (!existing) await insertToken(tx, { userId: null, serviceName: spec.name, note: CONFIG_TOKEN_NOTE, scopes: ['inherit'], secret: spec.api_token });
      return spec.api_token;
    }
    if (spec.command?.length) {
      const { token } = await insertToken(tx, { userId: null, serviceName: spec.name, note: GENERATED_TOKEN_NOTE, scopes: ['inherit'] });
      return token;
    }
    return null;
  }

  /** Registers (or removes) the service's OAuth client; the secret is its API token. */
  async #syncClient(tx: Transaction<Database>, spec: ServiceSpec, apiToken: string | null): Promise<ServiceRecord['oauth']> {
    const drop = async (keep: string | null) => {
      const old = await tx.selectFrom('oauth_clients').select('identifier').where('service_name', '=', spec.name).execute();
      for (const { identifier } of old) if (identifier !== keep) await this.#deleteClient(tx, identifier);
    };
    if (!this.#oauthAvailable(spec)) {
      await drop(null);
      return null;
    }
    const clientId = this.#clientIdOf(spec);
    const redirectUri = this.#redirectUriOf(spec);
    const configured = spec.oauth_client_allowed_scopes?.length ? spec.oauth_client_allowed_scopes : this.#oauthRoleScopes(spec);
    const allowedScopes = [...new Set([...configured, `access:services!service=${spec.name}`])].sort();
    if (!apiToken) this.#deps.log.warn({ service: spec.name }, 'service has an OAuth client but no api_token: it cannot complete an OAuth login');
    const taken = await tx.selectFrom('oauth_clients').select(['service_name']).where('identifier', '=', clientId).executeTakeFirst();
    if (taken && taken.service_name !== spec.name) throw new HubError(500, `services: the OAuth client id '${clientId}' of service '${spec.name}' is already in use`);
    await drop(clientId);
    const values = {
      // An empty hash never matches a presented secret: OAuth logins cannot complete without a token.
      secret_hash: apiToken ? hashSecret(apiToken) : '',
      redirect_uri: redirectUri,
      description: `JupyterHub service ${spec.name}`,
      allowed_scopes: JSON.stringify(allowedScopes),
      service_name: spec.name,
      spawner_id: null,
    };
    await tx
      .insertInto('oauth_clients')
      .values({ identifier: clientId, ...values })
      .onConflict((oc) => oc.column('identifier').doUpdateSet(values))
      .execute();
    return { clientId, redirectUri, allowedScopes, noConfirm: spec.oauth_no_confirm ?? false };
  }

  /** Deprecated oauth_roles: the scopes of those roles (from load_roles and the default roles). */
  #oauthRoleScopes(spec: ServiceSpec): string[] {
    if (!spec.oauth_roles?.length) return [];
    const out: string[] = [];
    for (const name of spec.oauth_roles) {
      const configured = this.#deps.roles?.find((r) => r.name === name);
      const builtin = DEFAULT_ROLES.find((r) => r.name === name);
      if (!configured && !builtin) throw new HubError(500, `services: service '${spec.name}' names oauth_roles '${name}', which is not a role`);
      out.push(...(builtin?.scopes ?? []), ...(configured?.scopes ?? []));
    }
    return out;
  }

  async #deleteClient(tx: Transaction<Database>, identifier: string): Promise<void> {
    await tx.deleteFrom('api_tokens').where('client_id', '=', identifier).execute();
    await tx.deleteFrom('oauth_codes').where('client_id', '=', identifier).execute();
    await tx.deleteFrom('oauth_clients').where('identifier', '=', identifier).execute();
  }

  /** A service's row, tokens, OAuth client and the OAuth tokens issued through it (roles cascade). */
  async #deleteServiceRows(tx: Transaction<Database>, name: string): Promise<void> {
    const clients = await tx.selectFrom('oauth_clients').select('identifier').where('service_name', '=', name).execute();
    for (const { identifier } of clients) await this.#deleteClient(tx, identifier);
    await tx.deleteFrom('api_tokens').where('service_name', '=', name).where('user_id', 'is', null).execute();
    await tx.deleteFrom('services').where('name', '=', name).execute();
  }

  #record(row: ServiceRow, spec: ServiceSpec, oauth: ServiceRecord['oauth'], apiToken: string | null): ServiceRecord {
    return {
      name: row.name,
      admin: row.admin,
      url: row.url,
      prefix: row.url ? this.prefixOf(row.name) : '',
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
}
