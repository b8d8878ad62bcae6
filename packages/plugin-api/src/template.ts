/**
 * Expands JupyterHub's `{username}`, `{servername}`, `{escaped_username}`... placeholders.
 * Unknown placeholders are left as they are, so a literal `{` in a path is harmless.
 */
export function formatTemplate(template: string, values: Readonly<Record<string, string>>): string {
  return template.replace(/\{([a-z_]+)\}/g, (whole, key: string) => values[key] ?? whole);
}

/**
 * A username made safe for file, container and host names: `[a-z0-9]` kept, every other character
 * written as `-` plus its hex code (dockerspawner's escapism style), so two names never collide.
 */
export function escapeUsername(name: string): string {
  let out = '';
  for (const ch of name) {
    if (/^[a-z0-9]$/.test(ch)) out += ch;
    else out += '-' + Array.from(Buffer.from(ch, 'utf8'), (b) => b.toString(16).padStart(2, '0')).join('');
  }
  return out;
}
