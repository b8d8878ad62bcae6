import type { FastifyInstance } from 'fastify';
import { hasScope } from '../auth/scopes.js';
import { badRequest, HubError, notAuthorized } from '../errors.js';
import { imagePrePull } from '../services/image-prepull.js';
import { imageRollout } from '../services/image-rollout.js';
import { apiCaller, type ApiEnv } from './api-env.js';

const SCOPE = 'admin:servers';
const DEFAULT_BATCH = 5;

/**
 * Image pre-pull and rolling image update (tshub extensions, admin:servers), for spawner kinds whose
 * SpawnerShared can pre-pull / change its image; other kinds get a 404 that says so.
 */
export async function imageRoutes(app: FastifyInstance, env: ApiEnv): Promise<void> {
  const { hub } = env;
  const prePull = imagePrePull(hub);
  const rollout = imageRollout(hub);
  // Before the hub listens, so no spawn can start from the configured image after a rollout chose another.
  await rollout.restore();

  const admin = async (req: Parameters<typeof apiCaller>[1]) => {
    const { identity } = await apiCaller(env, req);
    if (!hasScope(identity.scopeSet, SCOPE)) throw notAuthorized([SCOPE]);
  };
  const needPrePull = () => {
    if (!prePull.supported) throw new HubError(404, `The spawner kind '${hub.spawnerPlugin.kind}' cannot pre-pull images.`);
  };
  const needRollout = () => {
    if (!rollout.supported) throw new HubError(404, `The spawner kind '${hub.spawnerPlugin.kind}' cannot change its image at run time, so there is no rollout.`);
  };

  app.get('/images/pre-pull', { schema: { summary: 'Image pre-pull progress (tshub extension)', description: `Per image and node; requires ${SCOPE}.` } }, async (req) => {
    await admin(req);
    needPrePull();
    return prePull.status();
  });
  app.post('/images/pre-pull', { schema: { summary: 'Start an image pre-pull (tshub extension)', description: `Pulls the spawner's images on every node in the background; requires ${SCOPE}.` } }, async (req, reply) => {
    await admin(req);
    needPrePull();
    return reply.code(202).send(prePull.start('api'));
  });

  app.get('/images/rollout', { schema: { summary: 'Rolling image update progress (tshub extension)', description: `Requires ${SCOPE}.` } }, async (req) => {
    await admin(req);
    needRollout();
    return rollout.status();
  });
  app.post('/images/rollout', {
    schema: {
      summary: 'Start a rolling image update (tshub extension)',
      description: `New servers use the image at once; running servers on another image restart batch_size at a time (default ${DEFAULT_BATCH}), keeping their volumes. Requires ${SCOPE}.`,
    },
  }, async (req, reply) => {
    await admin(req);
    needRollout();
    const { image, batchSize } = parseRolloutBody(req.body);
    return reply.code(202).send(await rollout.start(image, batchSize));
  });
}

/** Checks the body by hand so each mistake gets its own sentence. */
function parseRolloutBody(body: unknown): { image: string; batchSize: number } {
  if (body === undefined || body === null || typeof body !== 'object' || Array.isArray(body)) throw badRequest('The body must be a JSON object like {"image": "repo/name:tag", "batch_size": 5}.');
  const { image, batch_size: batch, ...rest } = body as Record<string, unknown>;
  const unknown = Object.keys(rest);
  if (unknown.length) throw badRequest(`Unknown field${unknown.length > 1 ? 's' : ''} in the body: ${unknown.join(', ')}. Allowed: image, batch_size.`);
  if (typeof image !== 'string' || !image.trim()) throw badRequest('"image" must be a non-empty string naming the image, e.g. "repo/name:tag".');
  if (image.length > 512 || /\s/.test(image)) throw badRequest('"image" is not a valid image reference.');
  if (batch !== undefined && (typeof batch !== 'number' || !Number.isInteger(batch) || batch < 1 || batch > 1000)) throw badRequest('"batch_size" must be a whole number from 1 to 1000.');
  return { image, batchSize: batch ?? DEFAULT_BATCH };
}
