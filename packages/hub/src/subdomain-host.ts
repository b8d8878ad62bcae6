// JupyterHub's `subdomain_host`: every user's server gets its own origin,
// `{dns label of the name}.{subdomain_host}`, so a page it serves is cross-origin to the hub and
// to every other user's server. These helpers are the only place that knows how such hosts look.

import { userServerPath } from './url-escape.js';

/** A parsed `hub.subdomain_host` such as `https://hub.example.org` or `http://hub.localhost:8000`. */
export interface SubdomainHost {
  /** The hub's own origin, e.g. `http://hub.localhost:8000`. */
  readonly origin: string;
  /** `http:` or `https:` */
  readonly protocol: string;
  /** The hub host name without port (JupyterHub's `domain`), e.g. `hub.localhost`. */
  readonly domain: string;
  /** The explicit port ('' for the scheme's default). */
  readonly port: string;
}

/**
 * Parses `hub.subdomain_host`: '' means off (null). A value without a scheme gets https, as in
 * JupyterHub ("you have to be really explicit about HTTP"). Throws a message for the config file.
 */
export function parseSubdomainHost(value: string): SubdomainHost | null {
  const text = value.trim();
  if (!text) return null;
  let url: URL;
  try {
    url = new URL(text.includes('://') ? text : `https://${text}`);
  } catch {
    throw new Error(`hub.subdomain_host: '${value}' is not a URL; expected e.g. https://hub.example.org`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`hub.subdomain_host: '${value}' must be an http or https URL`);
  if ((url.pathname !== '/' && url.pathname !== '') || url.search || url.hash || url.username || url.password) {
    throw new Error(`hub.subdomain_host: '${value}' must be scheme://host[:port] only (the path comes from base_url)`);
  }
  if (/^[\d.]+$/.test(url.hostname) || url.hostname.startsWith('[')) {
    throw new Error(`hub.subdomain_host: '${value}' must be a host name (users get <name>.<host>), not an IP address`);
  }
  return { origin: url.origin, protocol: url.protocol, domain: url.hostname, port: url.port };
}

/**
 * A user name as one DNS label, as JupyterHub's `_dns_quote`: percent-encoded, lower case, every
 * character other than letters, digits, '-' and '.' encoded too, then '%' written as '_'.
 */
export function dnsLabel(name: string): string {
  return encodeURIComponent(name)
    .toLowerCase()
    .replace(/[^a-z0-9.%-]/g, (c) => `%${c.charCodeAt(0).toString(16)}`)
    .replace(/%/g, '_');
}

/** The host name of a user's servers, e.g. `alice.hub.localhost`. */
export const userDomain = (sd: SubdomainHost, user: string): string => `${dnsLabel(user)}.${sd.domain}`;

/** The origin of a user's servers, e.g. `http://alice.hub.localhost:8000`. */
export const userOrigin = (sd: SubdomainHost, user: string): string =>
  `${sd.protocol}//${userDomain(sd, user)}${sd.port ? `:${sd.port}` : ''}`;

/**
 * Where a server is reached and routed: `url` is what browsers are sent to (absolute with
 * subdomains, else the path), `routespec` the proxy key (`alice.hub.localhost/user/alice/` with
 * host routing: configurable-http-proxy matches the Host without its port).
 */
export function serverAddress(sd: SubdomainHost | null, baseUrl: string, user: string, server: string): { prefix: string; url: string; routespec: string } {
  const prefix = userServerPath(baseUrl, user, server);
  if (!sd) return { prefix, url: prefix, routespec: prefix };
  return { prefix, url: `${userOrigin(sd, user)}${prefix}`, routespec: `${userDomain(sd, user)}${prefix}` };
}

/** Whether `host` (a Host header, port allowed) names a user's host under subdomain_host, not the hub's own. */
export function isUserHost(sd: SubdomainHost, host: string | undefined): boolean {
  if (!host) return false;
  const name = host.replace(/:\d+$/, '').toLowerCase();
  return name.endsWith(`.${sd.domain}`) && name.length > sd.domain.length + 1;
}

/**
 * Whether an absolute URL points at the hub's host or a user's host under subdomain_host, with the
 * same scheme and port: JupyterHub's rule for accepting an absolute `next`.
 */
export function isUnderSubdomainHost(sd: SubdomainHost, url: URL): boolean {
  if (url.protocol !== sd.protocol || url.port !== sd.port || url.username || url.password) return false;
  const name = url.hostname.toLowerCase();
  return name === sd.domain || isUserHost(sd, name);
}
