import { createHash, randomBytes, randomUUID } from 'node:crypto';

/** A new API token or OAuth secret: 32 hex characters (128 random bits), as JupyterHub's uuid4().hex. */
export function newToken(): string {
  return randomUUID().replace(/-/g, '');
}

/** A random url-safe secret (session ids, OAuth codes, xsrf tokens). */
export function newSecret(bytes = 32): string {
  return randomBytes(bytes).toString('base64url');
}

/** The stored form of a secret. One sha256 round: the secrets are random, not passwords. */
export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}
