import type { Transaction } from 'kysely';
import { HubError } from '@tshub/plugin-api';
import { hashSecret } from '../auth/secrets.js';
import { DEFAULT_ROLES } from '../auth/default-roles.js';
import type { Database } from '../db/schema.js';
import { clientIdOf, oauthAvailable, redirectUriOf, type ServiceRecord, type ServiceRegistryDeps, type ServiceSpec } from './service-spec.js';

/** Registers (or removes) the service's OAuth client; the secret is its API token. */
export async function syncClient(deps: ServiceRegistryDeps, tx: Transaction<Database>, spec: ServiceSpec, apiToken: string | null): Promise<ServiceRecord['oauth']> {
  const drop = async (keep: string | null) => {
    const old = await tx.selectFrom('oauth_clients').select('identifier').where('service_name', '=', spec.name).execute();
    for (const { identifier } of old) if (identifier !== keep) await deleteClient(tx, identifier);
  };
  if (!oauthAvailable(spec)) {
    await drop(null);
    return null;
  }
  const clientId = clientIdOf(spec);
  const redirectUri = redirectUriOf(deps.urls, spec);
  const configured = spec.oauth_client_allowed_scopes?.length ? spec.oauth_client_allowed_scopes : oauthRoleScopes(deps, spec);
  const allowedScopes = [...new Set([...configured, `access:services!service=${spec.name}`])].sort();
  if (!apiToken) deps.log.warn({ service: spec.name }, 'service has an OAuth client but no api_token: it cannot complete an OAuth login');
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
function oauthRoleScopes(deps: ServiceRegistryDeps, spec: ServiceSpec): string[] {
  if (!spec.oauth_roles?.length) return [];
  const out: string[] = [];
  for (const name of spec.oauth_roles) {
    const configured = deps.roles?.find((r) => r.name === name);
    const builtin = DEFAULT_ROLES.find((r) => r.name === name);
    if (!configured && !builtin) throw new HubError(500, `services: service '${spec.name}' names oauth_roles '${name}', which is not a role`);
    out.push(...(builtin?.scopes ?? []), ...(configured?.scopes ?? []));
  }
  return out;
}

async function deleteClient(tx: Transaction<Database>, identifier: string): Promise<void> {
  await tx.deleteFrom('api_tokens').where('client_id', '=', identifier).execute();
  await tx.deleteFrom('oauth_codes').where('client_id', '=', identifier).execute();
  await tx.deleteFrom('oauth_clients').where('identifier', '=', identifier).execute();
}

/** A service's row, tokens, OAuth client and the OAuth tokens issued through it (roles cascade). */
export async function deleteServiceRows(tx: Transaction<Database>, name: string): Promise<void> {
  const clients = await tx.selectFrom('oauth_clients').select('identifier').where('service_name', '=', name).execute();
  for (const { identifier } of clients) await deleteClient(tx, identifier);
  await tx.deleteFrom('api_tokens').where('service_name', '=', name).where('user_id', 'is', null).execute();
  await tx.deleteFrom('services').where('name', '=', name).execute();
}
