/**
 * The `next` parameter if it is a local path (no scheme, no host, no `//` or `/\` tricks), else
 * undefined: login never redirects off-site.
 */
export function safeNext(next: unknown): string | undefined {
  if (typeof next !== 'string' || next.length === 0 || next.length > 4096) return undefined;
  if (!next.startsWith('/') || next.startsWith('//') || next.startsWith('/\\')) return undefined;
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\\]/.test(next)) return undefined;
  // A Location header carries ASCII only (Node refuses > U+00FF with ERR_INVALID_CHAR, a 500).
  try {
    return next.replace(/[^\u0020-\u007e]+/g, (s) => encodeURIComponent(s));
  } catch {
    return undefined; // a lone surrogate
  }
}
