import type { FastifyReply, FastifyRequest } from 'fastify';
import type { HubContext } from '../hub-context.js';
import type { RequestAuth } from '../auth/request-auth.js';

const REASONS: Record<number, string> = {
  400: 'Bad Request', 403: 'Forbidden', 404: 'Not Found', 405: 'Method Not Allowed', 424: 'Failed Dependency',
  429: 'Too Many Requests', 500: 'Internal Server Error', 502: 'Bad Gateway', 503: 'Service Unavailable',
};

const FRAME_ANCESTORS = "frame-ancestors 'self'";

/** Renders pages with the variables every template uses (user, xsrf, prefixes, announcement). */
export class PageRenderer {
  constructor(
    private readonly hub: HubContext,
    private readonly auth: RequestAuth,
  ) {}

  async page(req: FastifyRequest, reply: FastifyReply, name: string, vars: Record<string, unknown> = {}, status = 200): Promise<FastifyReply> {
    const who = await this.auth.identify(req, { allowToken: false });
    const html = this.hub.renderer.render(name, {
      base_url: this.hub.urls.baseUrl,
      hub_prefix: this.hub.urls.hubPrefix,
      version: this.hub.version,
      user: who ? { name: who.identity.name, admin: who.identity.admin } : null,
      xsrf: this.auth.xsrfToken(req, reply),
      announcement: this.hub.config.hub.announcement || null,
      // Local accounts: the header links to the password and account pages.
      accounts: Boolean(this.hub.authenticator.accounts),
      ...vars,
    });
    // Only the hub itself may frame its pages (clickjacking), as JupyterHub's default CSP says. A page
    // with its own policy (the OAuth consent page: frame-ancestors 'none') keeps it. No report-uri:
    // the hub has no CSP report endpoint, so browsers would only collect 404s.
    if (!reply.getHeader('content-security-policy')) reply.header('Content-Security-Policy', FRAME_ANCESTORS);
    return reply.code(status).type('text/html; charset=utf-8').header('Cache-Control', 'no-store').send(html);
  }

  async error(
    req: FastifyRequest,
    reply: FastifyReply,
    status: number,
    message: string | null,
    links: Array<{ href: string; text: string }> = [],
    statusMessage?: string,
  ): Promise<FastifyReply> {
    return this.page(req, reply, 'error.html', { status_code: status, status_message: statusMessage ?? REASONS[status] ?? 'Error', message, links }, status);
  }
}
