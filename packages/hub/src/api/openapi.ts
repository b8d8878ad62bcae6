import type { FastifyInstance } from 'fastify';
import swagger from '@fastify/swagger';

/**
 * Collects every /hub/api route (with its schemas) into an OpenAPI 3 document, generated from the
 * routes themselves so it cannot drift from the code. Registered before the routes.
 */
export async function registerOpenApi(app: FastifyInstance, opts: { apiPrefix: string; version: string }): Promise<void> {
  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'tshub: the JupyterHub REST API',
        description: 'JupyterHub-compatible REST API. Authenticate with `Authorization: token <token>`.',
        version: opts.version,
      },
      components: { securitySchemes: { token: { type: 'apiKey', in: 'header', name: 'Authorization' } } },
      security: [{ token: [] }],
    },
    transform: ({ schema, url }) => {
      const s = (schema ?? {}) as Record<string, unknown>;
      // Only the REST API goes in the document; the catch-all exists only to answer JSON 404s.
      if (!url.startsWith(opts.apiPrefix) || url.endsWith('/*')) return { schema: { ...s, hide: true } as never, url };
      return { schema: s as never, url: url.slice(opts.apiPrefix.length) || '/' };
    },
  });
}

/** GET /hub/api/openapi.json */
export async function openApiRoute(app: FastifyInstance, root: FastifyInstance): Promise<void> {
  app.get('/openapi.json', { schema: { hide: true } as never }, async () => root.swagger());
}
