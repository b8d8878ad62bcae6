import type { FastifyInstance } from 'fastify';
import { Ajv } from 'ajv';
import { hasScope } from '../auth/scopes.js';
import type { Identity } from '../auth/identity.js';
import { ServiceEntry } from '../config/schema.js';
import { HubError, badRequest, notAuthorized } from '../errors.js';
import { serviceModel } from '../presenters/service-model.js';
import type { ServiceRecord, ServiceRegistry, ServiceSpec } from '../services/service-registry.js';
import { apiCaller, requireScopes, type ApiEnv } from './api-env.js';

const PARAMS = {
  params: {
    type: 'object',
    required: ['name'],
    properties: { name: { type: 'string', minLength: 1, maxLength: 255 } },
  },
} as const;

type NameParams = { Params: { name: string } };

const READ_SERVICE = ['read:services', 'read:services:name', 'read:roles:services'];

const validateSpec = new Ajv({ allErrors: true, strict: false }).compile(ServiceEntry);

/** The API env plus the service registry (wired in build-hub). */
export type ServiceApiEnv = ApiEnv & { readonly services?: ServiceRegistry };

/**
 * /hub/api/services: the list (an object keyed by name, never paginated), one service, and
 * JupyterHub 5's runtime creation and deletion of unmanaged services.
 */
export async function serviceRoutes(app: FastifyInstance, env: ServiceApiEnv): Promise<void> {
  const registry = env.services;
  if (!registry) throw new Error('serviceRoutes: the service registry is not wired into the API env');

  const present = async (identity: Identity, svc: ServiceRecord) => {
    const roles = hasScope(identity.scopeSet, 'read:roles:services', { service: svc.name }) ? await registry.roleNames(svc.name) : [];
    return serviceModel(svc, roles, registry.pidOf(svc.name), identity.scopeSet);
  };

  app.get('/services', async (req) => {
    const { identity } = await apiCaller(env, req);
    const filters = identity.scopeSet.get('list:services');
    if (!filters) throw notAuthorized(['list:services']);
    let services = registry.all();
    if (!filters.has('')) {
      const names = new Set([...filters].filter((f) => f.startsWith('service=')).map((f) => f.slice('service='.length)));
      services = services.filter((s) => names.has(s.name));
    }
    const out: Record<string, unknown> = {};
    for (const svc of services) out[svc.name] = await present(identity, svc);
    return out;
  });

  app.get<NameParams>('/services/:name', { schema: PARAMS }, async (req) => {
    const { identity } = await apiCaller(env, req);
    const { name } = req.params;
    await requireScopes(identity, READ_SERVICE, { service: name });
    const svc = registry.get(name);
    if (!svc) throw new HubError(404, `Service ${name} does not exist`);
    return present(identity, svc);
  });

  app.post<NameParams>('/services/:name', { schema: PARAMS }, async (req, reply) => {
    const { identity } = await apiCaller(env, req);
    const { name } = req.params;
    await requireScopes(identity, ['admin:services'], { service: name });
    const body = req.body === undefined || req.body === null ? {} : req.body;
    if (typeof body !== 'object' || Array.isArray(body)) throw badRequest('Invalid JSON data: the service spec must be a dict');
    const spec = { ...(body as Record<string, unknown>) };
    if (spec.command !== undefined) throw badRequest(`Can not create managed service ${name} at runtime`);
    if (spec.name !== undefined && spec.name !== name) throw badRequest(`Service name in the body (${JSON.stringify(spec.name)}) does not match the URL (${name})`);
    spec.name = name;
    if (!validateSpec(spec)) {
      const problems = (validateSpec.errors ?? []).map((e) =>
        e.keyword === 'additionalProperties' ? `unknown key '${(e.params as { additionalProperty: string }).additionalProperty}'` : `${e.instancePath.slice(1) || 'spec'} ${e.message}`,
      );
      throw badRequest(`Invalid service spec: ${[...new Set(problems)].join('; ')}`);
    }
    // Creating an admin service is granting admin: only admins may.
    if (spec.admin === true && !identity.admin) throw new HubError(403, 'Only admins can create admin services');
    if (registry.get(name)) throw new HubError(409, `Service ${name} already exists`);
    const svc = await registry.addRuntime(spec as ServiceSpec);
    reply.code(201);
    return present(identity, svc);
  });

  app.delete<NameParams>('/services/:name', { schema: PARAMS }, async (req, reply) => {
    const { identity } = await apiCaller(env, req);
    const { name } = req.params;
    await requireScopes(identity, ['admin:services'], { service: name });
    await registry.removeRuntime(name);
    return reply.code(200).send();
  });
}
