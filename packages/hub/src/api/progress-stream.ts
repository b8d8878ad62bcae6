import type { IncomingMessage } from 'node:http';
import type { FastifyReply } from 'fastify';
import type { ProgressMessage, ServerRuntime } from '../services/server-runtime.js';

const KEEPALIVE_MS = 8_000;

/**
 * Streams a server's progress as text/event-stream: past events, then live ones, ending after the
 * ready or failed event. A blank line every 8 s keeps proxies from closing an idle stream.
 */
export function streamProgress(req: IncomingMessage, reply: FastifyReply, rt: ServerRuntime): void {
  reply.hijack();
  const res = reply.raw;
  res.writeHead(200, {
    'Content-Type': 'text/event-stream',
    'Cache-Control': 'no-cache',
    'X-Accel-Buffering': 'no',
    ...(reply.getHeader('x-jupyterhub-version') ? { 'X-JupyterHub-Version': String(reply.getHeader('x-jupyterhub-version')) } : {}),
  });
  let closed = false;
  const finish = () => {
    if (closed) return;
    closed = true;
    clearInterval(keepalive);
    unsubscribe();
    res.end();
  };
  const send = (e: ProgressMessage) => {
    if (closed) return;
    res.write(`data: ${JSON.stringify(e)}\n\n`);
    if (e.ready || e.failed) setImmediate(finish);
  };
  const keepalive = setInterval(() => res.write('\n\n'), KEEPALIVE_MS);
  let unsubscribe: () => void = () => undefined;
  if (rt.ready) {
    // Already up: one ready event, as JupyterHub sends.
    send({ progress: 100, ready: true, message: `Server ready at ${rt.publicUrl}`, html_message: `Server ready at <a href="${rt.publicUrl}">${rt.publicUrl}</a>`, url: rt.publicUrl });
  } else {
    unsubscribe = rt.subscribe(send);
  }
  req.on('close', finish);
}
