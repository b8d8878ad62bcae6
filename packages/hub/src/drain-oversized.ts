import type { FastifyInstance } from 'fastify';

/** Bodies up to this size are read and dropped before the 413; larger ones still end the connection. */
const DRAIN_LIMIT = 64 * 1024 * 1024;

/**
 * A body over the limit is refused (413) before it is read, and fastify then closes the connection.
 * A client behind configurable-http-proxy is still sending: the proxy's write fails and the user sees
 * the proxy's 503 (or a reset) instead of our 413. Reading and discarding the rest of the body first
 * (nothing is kept) lets the proxy finish the request and pass the 413 on; absurd sizes are cut off.
 */
export function drainOversizedBodies(app: FastifyInstance): void {
  app.addHook('onSend', async (req, reply, payload) => {
    if (reply.statusCode !== 413) return payload;
    const length = Number(req.headers['content-length']);
    if (!Number.isFinite(length) || length > DRAIN_LIMIT) return payload;
    const raw = req.raw;
    if (!raw.readableEnded && !raw.destroyed) {
      await new Promise<void>((resolve) => {
        raw.once('end', resolve).once('close', resolve).once('error', () => resolve());
        raw.resume();
      });
    }
    if (reply.getHeader('connection') === 'close') reply.removeHeader('connection');
    return payload;
  });
}
