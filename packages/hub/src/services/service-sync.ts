import type { Transaction } from 'kysely';
import { HubError } from '@tshub/plugin-api';
import { hashSecret } from '../auth/secrets.js';
import type { Database, ServiceRow } from '../db/schema.js';
import { insertToken } from '../db/tokens.js';
import type { HubUrls } from '../hub-context.js';
import { deleteServiceRows, syncClient } from './service-oauth-client.js';
import {
  buildRecord,
  clientIdOf,
  CONFIG_TOKEN_NOTE,
  GENERATED_TOKEN_NOTE,
  oauthAvailable,
  redirectUriOf,
  specProblem,
  type ServiceRecord,
  type ServiceRegistryDeps,
  type ServiceSpec,
} from './service-spec.js';

/**
 * Start-up: makes the database match `config.services` (JupyterHub's init_services) and returns every
 * service, including those added at runtime before, by name.
 */
export async function loadServicesFromConfig(deps: ServiceRegistryDeps, specs: readonly ServiceSpec[]): Promise<Map<string, ServiceRecord>> {
  const { db, log } = deps;
  const problems: string[] = [];
  const seen = new Set<string>();
  specs.forEach((spec, i) => {
    if (seen.has(spec.name)) problems.push(`services[${i}].name: service '${spec.name}' is defined twice`);
    seen.add(spec.name);
    const p = specProblem(spec);
    if (p) problems.push(`services[${i}] (${spec.name}): ${p}`);
  });
  const clientIds = specs.filter((s) => oauthAvailable(s)).map((s) => clientIdOf(s));
  const dupClient = clientIds.find((id, i) => clientIds.indexOf(id) !== i);
  if (dupClient) problems.push(`services: the OAuth client id '${dupClient}' is used by two services`);
  if (problems.length) throw new HubError(500, `Invalid services:\n  - ${problems.join('\n  - ')}`);

  const records = new Map<string, ServiceRecord>();
  await db.transaction().execute(async (tx) => {
    const existing = await tx.selectFrom('services').select(['id', 'name', 'from_config']).execute();
    for (const old of existing) {
      if (old.from_config && !seen.has(old.name)) {
        await deleteServiceRows(tx, old.name);
        log.info({ service: old.name }, 'service removed from config; deleted');
      }
    }
    for (const spec of specs) {
      const row = await upsertServiceRow(deps.urls, tx, spec, true);
      const apiToken = await syncTokens(tx, spec);
      const oauth = await syncClient(deps, tx, spec, apiToken);
      records.set(spec.name, buildRecord(deps.urls, row, spec, oauth, apiToken));
    }
    // Services added through the API earlier stay (JupyterHub 5 keeps them in the database).
    const runtime = await tx.selectFrom('services').selectAll().where('from_config', '=', false).execute();
    for (const row of runtime) {
      const client = await tx.selectFrom('oauth_clients').selectAll().where('service_name', '=', row.name).executeTakeFirst();
      const oauth = client ? { clientId: client.identifier, redirectUri: client.redirect_uri, allowedScopes: client.allowed_scopes, noConfirm: row.oauth_no_confirm } : null;
      records.set(row.name, buildRecord(deps.urls, row, { name: row.name }, oauth, null));
    }
  });
  return records;
}

export async function upsertServiceRow(urls: HubUrls, tx: Transaction<Database>, spec: ServiceSpec, fromConfig: boolean): Promise<ServiceRow> {
  const oauth = oauthAvailable(spec);
  const values = {
    admin: spec.admin ?? false,
    url: spec.url || null,
    info: JSON.stringify(spec.info ?? {}),
    display: spec.display ?? true,
    oauth_client_id: oauth ? clientIdOf(spec) : null,
    oauth_redirect_uri: oauth ? redirectUriOf(urls, spec) : null,
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

/**
 * The service's start-up tokens: the configured api_token (stored hashed, replacing the previous
 * config token), or a fresh one for a managed service without one. Returns the secret, if known.
 */
async function syncTokens(tx: Transaction<Database>, spec: ServiceSpec): Promise<string | null> {
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
