import { HubError, type Authenticator } from '@tshub/plugin-api';
import type { AuthenticatorConfig } from '../config/schema.js';
import { AuthStateCrypt } from './auth-state-crypt.js';

/**
 * A configuration the hub refuses to start with. Status 500 because it is not a client's fault; the CLI
 * exits with code 2 for it, as for a config file that fails validation.
 */
export class StartupConfigError extends HubError {
  readonly exitCode = 2;

  constructor(message: string) {
    super(500, message);
    this.name = 'StartupConfigError';
  }
}

/** The crypt keeper for auth_state; a malformed key or enable_auth_state without one stops the hub. */
export function cryptFromEnv(config: AuthenticatorConfig, env: NodeJS.ProcessEnv): AuthStateCrypt {
  let crypt: AuthStateCrypt;
  try {
    crypt = AuthStateCrypt.fromEnv(env);
  } catch (err) {
    throw new StartupConfigError((err as Error).message);
  }
  if (config.enable_auth_state && !crypt.enabled) {
    throw new StartupConfigError(
      'authenticator.enable_auth_state is true but JUPYTERHUB_CRYPT_KEY is not set: set it to a 32-byte key in hex or base64 ' +
        '(e.g. `export JUPYTERHUB_CRYPT_KEY=$(openssl rand -hex 32)`), or turn enable_auth_state off.',
    );
  }
  return crypt;
}

/**
 * JupyterHub 5 refuses nothing by default but lets nobody in: a config where no rule could ever allow
 * a login is almost surely a mistake, so it is a start-up error naming the keys to set. The dummy kind
 * (tests and demos) and local accounts whose existence is the allow rule are exempt.
 */
export function checkSomeoneCanLogIn(config: AuthenticatorConfig, authenticator: Authenticator, opts: { kind: string; implicitAllowAll: boolean }): void {
  if (opts.kind === 'dummy' || opts.implicitAllowAll) return;
  if (config.allow_all || config.allowed_users.length > 0 || config.admin_users.length > 0) return;
  if (authenticator.hasAllowRules === true) return;
  throw new StartupConfigError(
    `authenticator: with this configuration nobody could log in (kind '${opts.kind}'). Set authenticator.allow_all: true to let ` +
      'everyone the authenticator accepts in, or list people in authenticator.allowed_users or authenticator.admin_users' +
      (opts.kind === 'local' ? '.' : `, or configure the ${opts.kind} authenticator's own allow rules.`),
  );
}

/** The plugin's own start-up check; its message (naming the key path) becomes the start-up error. */
export async function validateAuthenticator(authenticator: Authenticator, kind: string): Promise<void> {
  if (!authenticator.validateConfig) return;
  try {
    await authenticator.validateConfig();
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    throw new StartupConfigError(message.startsWith('authenticator') ? message : `authenticator (${kind}): ${message}`);
  }
}
