import { isUnderSubdomainHost, type SubdomainHost } from '../subdomain-host.js';

/**
 * The `next` parameter if it is a local path (no scheme, no host, no `//` or `/\` tricks), else
 * undefined: login never redirects off-site. With subdomain_host, an absolute http(s) URL on the
 * hub's host or a user's host under it (same scheme and port) is accepted too, as JupyterHub does:
 * user servers live there. Every other host is refused.
 */
export function safeNext(next: unknown, subdomain: SubdomainHost | null = null): string | undefined {
  if (typeof next !== 'string' || next.length === 0 || next.length > 4096) return undefined;
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\\]/.test(next)) return undefined;
  if (subdomain && /^https?:\/\//i.test(next)) return absoluteNext(next, subdomain);
  if (!next.startsWith('/') || next.startsWith('//') || next.startsWith('/\\')) return undefined;
  return asciiOnly(next);
}

function absoluteNext(next: string, subdomain: SubdomainHost): string | undefined {
  let url: URL;
  try {
    url = new URL(next);
  } catch {
    return undefined;
  }
  return isUnderSubdomainHost(subdomain, url) ? asciiOnly(url.href) : undefined;
}

/** A Location header carries ASCII only (Node refuses > U+00FF with ERR_INVALID_CHAR, a 500). */
function asciiOnly(next: string): string | undefined {
  try {
    return next.replace(/[^\u0020-\u007e]+/g, (s) => encodeURIComponent(s));
  } catch {
    return undefined; // a lone surrogate
  }
}
