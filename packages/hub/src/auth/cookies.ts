import type { FastifyRequest } from 'fastify';

/** Cookie names, as JupyterHub names them (clients and reverse proxies know them). */
export const LOGIN_COOKIE = 'jupyterhub-hub-login';
export const SESSION_ID_COOKIE = 'jupyterhub-session-id';
export const XSRF_COOKIE = '_xsrf';

/** Peers whose X-Forwarded-* headers the hub believes: the proxy runs on this machine. */
export const TRUSTED_PROXIES = ['127.0.0.1', '::1'];
const TRUSTED_PEERS = new Set([...TRUSTED_PROXIES, '::ffff:127.0.0.1']);

/**
 * The scheme the browser used. Behind a trusted proxy this is the first X-Forwarded-Proto entry, not
 * the last one fastify's `req.protocol` gives: configurable-http-proxy appends its own hop ("http")
 * after a TLS terminator's "https". A spoofed value only misleads the spoofer (a browser on http
 * ignores a Secure cookie; a wrong scheme fails that browser's own referer check).
 */
export function browserProtocol(req: FastifyRequest): 'http' | 'https' {
  const header = req.headers['x-forwarded-proto'];
  const first = (Array.isArray(header) ? header[0] : header)?.split(',')[0]?.trim().toLowerCase();
  if ((first === 'http' || first === 'https') && TRUSTED_PEERS.has(req.socket.remoteAddress ?? '')) return first;
  return req.protocol === 'https' ? 'https' : 'http';
}

/** Whether cookies set in answer to `req` get `Secure`: the hub is configured for https, or this request came over https. */
export function secureCookie(req: FastifyRequest, configuredHttps: boolean): boolean {
  return configuredHttps || browserProtocol(req) === 'https';
}
