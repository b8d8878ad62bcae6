import { HubError } from '@tshub/plugin-api';
import { hashSecret } from '../auth/secrets.js';
import { insertToken } from '../db/tokens.js';
import { deleteServiceRows, syncClient } from './service-oauth-client.js';
import { API_TOKEN_NOTE, buildRecord, specProblem, type ServiceRecord, type ServiceRegistryDeps, type ServiceSpec } from './service-spec.js';
import { upsertServiceRow } from './service-sync.js';

/** POST /hub/api/services/:name: an unmanaged service added at runtime (kept across restarts). */
export async function addRuntimeService(deps: ServiceRegistryDeps, services: Map<string, ServiceRecord>, spec: ServiceSpec): Promise<ServiceRecord> {
  const { db, log } = deps;
  if (spec.command?.length) throw new HubError(400, `Can not create managed service ${spec.name} at runtime`);
  const problem = specProblem(spec);
  if (problem) throw new HubError(400, `Invalid service ${spec.name}: ${problem}`);
  if (services.has(spec.name)) throw new HubError(409, `Service ${spec.name} already exists`);
  const record = await db.transaction().execute(async (tx) => {
    if (await tx.selectFrom('services').select('id').where('name', '=', spec.name).executeTakeFirst()) {
      throw new HubError(409, `Service ${spec.name} already exists`);
    }
    const row = await upsertServiceRow(deps.urls, tx, spec, false);
    if (spec.api_token) {
      const clash = await tx.selectFrom('api_tokens').select('id').where('hashed', '=', hashSecret(spec.api_token)).executeTakeFirst();
      if (clash) throw new HubError(400, `Invalid service ${spec.name}: the api_token is already in use`);
      await insertToken(tx, { userId: null, serviceName: spec.name, note: API_TOKEN_NOTE, scopes: ['inherit'], secret: spec.api_token });
    }
    const oauth = await syncClient(deps, tx, spec, spec.api_token ?? null);
    return buildRecord(deps.urls, row, spec, oauth, spec.api_token ?? null);
  });
  services.set(record.name, record);
  deps.identities.invalidate();
  if (record.url) {
    await deps.routes.add(record.prefix, record.url, { service: record.name }).catch((err) => {
      log.warn({ err: String(err), service: record.name }, 'could not add the proxy route of a new service; the next route check will');
    });
  }
  log.info({ service: record.name, url: record.url }, 'service added');
  return record;
}

/** DELETE /hub/api/services/:name. Services from the config file cannot be deleted (405). */
export async function removeRuntimeService(deps: ServiceRegistryDeps, services: Map<string, ServiceRecord>, name: string): Promise<void> {
  const { db, log } = deps;
  const record = services.get(name);
  if (!record) throw new HubError(404, `Service ${name} does not exist`);
  if (record.fromConfig) throw new HubError(405, `Service ${name} is not modifiable at runtime`);
  await db.transaction().execute((tx) => deleteServiceRows(tx, name));
  services.delete(name);
  deps.identities.invalidate();
  if (record.url) {
    await deps.routes.delete(record.prefix).catch((err) => {
      log.warn({ err: String(err), service: name }, 'could not delete the proxy route of a removed service; the next route check will');
    });
  }
  log.info({ service: name }, 'service deleted');
}
