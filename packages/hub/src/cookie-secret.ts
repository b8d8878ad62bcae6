import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync, statSync } from 'node:fs';

/**
 * The secret that signs cookies: `hub.cookie_secret`, else $JPY_COOKIE_SECRET, else the secret file
 * (created with 0600 permissions on first start; JupyterHub's file name and behaviour).
 */
export function loadCookieSecret(opts: { configured: string; file: string; env: NodeJS.ProcessEnv }): string {
  if (opts.configured) return opts.configured;
  if (opts.env.JPY_COOKIE_SECRET) return opts.env.JPY_COOKIE_SECRET;
  if (existsSync(opts.file)) {
    const mode = statSync(opts.file).mode & 0o077;
    if (mode !== 0) throw new Error(`${opts.file} is readable by other users (mode ${(statSync(opts.file).mode & 0o777).toString(8)}); run: chmod 600 ${opts.file}`);
    const secret = readFileSync(opts.file, 'utf8').trim();
    if (secret.length >= 32) return secret;
    throw new Error(`${opts.file} holds a cookie secret that is too short; delete it to generate a new one`);
  }
  const secret = randomBytes(32).toString('hex');
  writeFileSync(opts.file, secret + '\n', { mode: 0o600 });
  return secret;
}
