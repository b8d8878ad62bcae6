/**
 * Escapes one URL path segment the way JupyterHub does (Python's `quote(s, safe='@~')`): letters,
 * digits, `_.-~@` stay; everything else is percent-encoded as UTF-8.
 */
export function urlEscapePath(segment: string): string {
  return encodeURIComponent(segment)
    .replace(/%40/g, '@')
    .replace(/[!'()*]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase());
}

/** `/user/<escaped name>/` or `/user/<escaped name>/<escaped server>/`, under `baseUrl`. */
export function userServerPath(baseUrl: string, user: string, server: string): string {
  return `${baseUrl}user/${urlEscapePath(user)}/${server ? urlEscapePath(server) + '/' : ''}`;
}
