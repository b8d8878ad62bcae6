import { MAX_PASSWORD_LENGTH } from './password.js';

/**
 * Options of `kind: local`. Fields are optional because the hub fills defaults from the schema; the
 * code applies the same defaults again ({@link resolveLocalOptions}) so that a plugin created without
 * validation behaves the same. (A type alias rather than an interface, so it stays assignable to
 * `Record<string, unknown>`.)
 */
export type LocalAuthConfig = {
  minimum_password_length?: number;
  check_common_password?: boolean;
  enable_signup?: boolean;
  open_signup?: boolean;
  /** FirstUseAuthenticator's behaviour; `first_use_passwords` is the older name of the same option. */
  allow_first_use?: boolean;
  first_use_passwords?: boolean;
  allowed_failed_logins?: number;
  seconds_before_next_try?: number;
  /** Read by the hub's sign-up page, which knows the client's address. */
  signup_rate_limit?: { max_signups?: number; window_seconds?: number };
};

/** The options with every default applied. */
export interface LocalOptions {
  readonly minLength: number;
  readonly checkCommon: boolean;
  readonly signup: boolean;
  readonly openSignup: boolean;
  readonly firstUse: boolean;
  /** 0: no lockout. */
  readonly allowedFailures: number;
  /** 0: locked until an admin unlocks. */
  readonly lockSeconds: number;
}

export const DEFAULT_MIN_LENGTH = 8;

export function resolveLocalOptions(config: LocalAuthConfig): LocalOptions {
  return {
    minLength: config.minimum_password_length ?? DEFAULT_MIN_LENGTH,
    checkCommon: config.check_common_password ?? true,
    signup: config.enable_signup ?? false,
    openSignup: config.open_signup ?? false,
    firstUse: (config.allow_first_use ?? false) || (config.first_use_passwords ?? false),
    allowedFailures: config.allowed_failed_logins ?? 5,
    lockSeconds: config.seconds_before_next_try ?? 600,
  };
}

export const localConfigSchema = {
  type: 'object',
  properties: {
    minimum_password_length: {
      type: 'integer',
      minimum: 1,
      maximum: MAX_PASSWORD_LENGTH,
      default: DEFAULT_MIN_LENGTH,
      description: 'Shortest password (in characters) accepted when a password is set. Existing passwords keep working if this is raised.',
    },
    check_common_password: {
      type: 'boolean',
      default: true,
      description: 'Refuse new passwords found in a built-in list of the most common passwords (NativeAuthenticator\'s option; on by default here).',
    },
    enable_signup: {
      type: 'boolean',
      default: false,
      description:
        'Offer a sign-up page at /hub/signup where people create their own account. New accounts wait for an ' +
        'administrator\'s approval at /hub/authorize unless open_signup is true.',
    },
    open_signup: {
      type: 'boolean',
      default: false,
      description: 'With enable_signup: new accounts can log in at once, without an administrator\'s approval.',
    },
    allow_first_use: {
      type: 'boolean',
      default: false,
      description:
        'Users an administrator creates (POST /hub/api/users, or a password reset to empty on /hub/authorize) have no ' +
        'password yet: the password entered at their first login becomes their password (like FirstUseAuthenticator).',
    },
    first_use_passwords: {
      type: 'boolean',
      default: false,
      description: 'Older name of allow_first_use; either one turns the behaviour on.',
    },
    allowed_failed_logins: {
      type: 'integer',
      minimum: 0,
      default: 5,
      description:
        'Wrong passwords in a row after which an account is locked: even the right password is refused until the lock ' +
        'ends or an administrator unlocks it at /hub/authorize. 0 turns the lockout off. Separate from the hub\'s ' +
        'authenticator.login_rate_limit, which throttles attempts (429) without locking the account.',
    },
    signup_rate_limit: {
      type: 'object',
      additionalProperties: false,
      properties: {
        max_signups: { type: 'integer', minimum: 0, default: 5, description: 'Sign-ups allowed per client address within window_seconds; 0 disables the limit.' },
        window_seconds: { type: 'integer', minimum: 0, default: 600, description: 'Length of the sliding window, in seconds.' },
      },
      default: { max_signups: 5, window_seconds: 600 },
      description:
        'With enable_signup: at most max_signups accounts per client address (IPv6: per /64 network) within ' +
        'window_seconds; further sign-ups get a 429 page with Retry-After and create nothing. Attempts at a name ' +
        'that is already taken count too; typing mistakes (passwords that do not match or break a rule) do not. ' +
        'A class signing up together from behind one NAT address needs a higher max_signups.',
    },
    seconds_before_next_try: {
      type: 'integer',
      minimum: 0,
      default: 600,
      description: 'How long a lockout lasts, in seconds. 0: until an administrator unlocks the account.',
    },
  },
} as const;
