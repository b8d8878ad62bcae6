import { createHash, timingSafeEqual } from 'node:crypto';
import type { AuthContext, Authenticator, AuthenticatorPlugin, AuthModel, LoginInput } from '@tshub/plugin-api';

/** Options of `kind: dummy`. A type alias so it stays assignable to `Record<string, unknown>`. */
export type DummyAuthConfig = {
  password?: string;
};

const dummyConfigSchema = {
  type: 'object',
  properties: {
    password: {
      type: 'string',
      default: '',
      description:
        'When set, every user must enter exactly this password; when empty, any password is accepted. ' +
        'Either way anyone can log in as any name: for testing and demos only (the hub logs a warning at start).',
    },
  },
} as const;

/** SHA-256, so both sides of the comparison have the same length and the password's length does not leak. */
function digest(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

class DummyAuthenticator implements Authenticator {
  readonly loginKind = 'form' as const;
  readonly #expected: Buffer | undefined;

  constructor(ctx: AuthContext<DummyAuthConfig>) {
    const password = ctx.config.password ?? '';
    this.#expected = password === '' ? undefined : digest(password);
  }

  async authenticate(input: LoginInput): Promise<AuthModel | null> {
    const name = input.fields['username'] ?? '';
    // A name of only spaces is as good as none: it would make an account nobody can address.
    if (name.trim() === '') return null;
    if (this.#expected !== undefined) {
      const given = digest(input.fields['password'] ?? '');
      if (!timingSafeEqual(given, this.#expected)) return null;
    }
    return { name };
  }
}

/**
 * `kind: dummy`: anyone logs in under any name, optionally with one shared password. Never for real
 * deployments; the hub itself logs a loud warning when it is configured.
 */
export const dummyAuthenticator: AuthenticatorPlugin<DummyAuthConfig> = {
  kind: 'dummy',
  configSchema: dummyConfigSchema,
  create: (ctx) => new DummyAuthenticator(ctx),
};
