import { randomBytes } from 'node:crypto';
import { hash, verify } from '@node-rs/argon2';
import type { Algorithm, Options } from '@node-rs/argon2';
import { isCommonPassword } from './common-passwords.js';

/**
 * Longest password accepted. argon2 pre-hashes its input, so the cost grows with the length; a cap keeps
 * a multi-megabyte "password" from turning each login attempt into CPU work. 1024 is far above any
 * passphrase a person types (NIST asks that at least 64 be allowed).
 */
export const MAX_PASSWORD_LENGTH = 1024;

// Algorithm.Argon2id. The package declares `Algorithm` as an ambient const enum, which cannot be read
// under isolatedModules, so the value is spelled out. Being explicit keeps a future change of the
// library's default from silently changing what we store.
const ARGON2ID = 2 as Algorithm;

/**
 * The library's defaults (19 MiB, 2 passes, 1 lane) are the OWASP minimum for argon2id. Verification
 * reads the parameters from the stored hash, so changing these later only affects new hashes.
 */
const HASH_OPTIONS: Options = { algorithm: ARGON2ID };

/** Length in code points, so that an accented letter or an emoji counts as one character. */
function passwordLength(password: string): number {
  return [...password].length;
}

/** What a new password is checked against besides its length. */
export interface PasswordRuleOptions {
  /** The account's name: a password equal to it (ignoring case) is refused. */
  readonly username?: string;
  /** Refuse passwords from the built-in list of the most common ones. */
  readonly checkCommon?: boolean;
}

/**
 * Checks a new password against the rules. Pure, so that forms can show the same message the server
 * would give.
 *
 * @param password the proposed password
 * @param minLength the configured minimum, in characters (code points)
 * @returns a sentence describing the problem, or null when the password is acceptable
 */
export function checkPasswordRules(password: string, minLength: number, opts: PasswordRuleOptions = {}): string | null {
  const length = passwordLength(password);
  if (length === 0) return 'The password must not be empty.';
  if (length < minLength) return `The password must be at least ${minLength} characters long.`;
  if (length > MAX_PASSWORD_LENGTH) return `The password must be at most ${MAX_PASSWORD_LENGTH} characters long.`;
  if (opts.username !== undefined && password.toLowerCase() === opts.username.toLowerCase()) {
    return 'The password must not be the same as the username.';
  }
  if (opts.checkCommon === true && isCommonPassword(password)) {
    return 'This password is one of the most commonly used passwords. Choose a less common one.';
  }
  return null;
}

/** True when a password is too long to be worth hashing (see {@link MAX_PASSWORD_LENGTH}). */
export function isOverlong(password: string): boolean {
  // Cheap pre-check on UTF-16 units first: a string this long in code points is at least as long in units.
  return password.length > MAX_PASSWORD_LENGTH && passwordLength(password) > MAX_PASSWORD_LENGTH;
}

/** Hashes a password with argon2id and a fresh random salt; the result is a PHC string (`$argon2id$...`). */
export function hashPassword(password: string): Promise<string> {
  return hash(password, HASH_OPTIONS);
}

/**
 * Verifies a password against a stored PHC hash. A malformed stored hash counts as a mismatch rather than
 * an error: a damaged record must not let anyone in, and must not turn a login into a 500.
 */
export async function verifyPassword(storedHash: string, password: string): Promise<boolean> {
  try {
    return await verify(storedHash, password);
  } catch {
    return false;
  }
}

let dummyHash: Promise<string> | undefined;

/**
 * A hash of a random secret, made once per process with the same parameters as real hashes. Verifying
 * against it when an account does not exist makes "no such user" cost as much as "wrong password", so
 * response times do not reveal which names have accounts.
 */
export function getDummyHash(): Promise<string> {
  dummyHash ??= hashPassword(randomBytes(32).toString('base64'));
  return dummyHash;
}
