import { HubError } from '@tshub/plugin-api';

/**
 * Options of `kind: cas` (a type alias so it stays assignable to `Record<string, unknown>`). All optional
 * in the type: the hub's schema fills defaults, and {@link checkCasConfig} reports what is missing.
 */
export type CasConfig = {
  cas_login_url?: string;
  cas_service_url?: string;
  cas_service_validate_url?: string;
  cas_logout_url?: string;
  cas_version?: '2.0' | '3.0';
  cas_ca_bundle?: string;
  cas_validate_timeout?: number;
  login_service?: string;
  username_attribute?: string;
  required_attributes?: Record<string, string[]>;
  admin_attributes?: Record<string, string[]>;
  groups_attribute?: string;
  /** Common authenticator option, read only to warn about rules it makes pointless. */
  allow_all?: boolean;
};

const httpUrl = { type: 'string', pattern: '^https?://' } as const;
const attributeRule = {
  type: 'object',
  additionalProperties: { type: 'array', items: { type: 'string' }, minItems: 1 },
} as const;

export const casConfigSchema = {
  type: 'object',
  properties: {
    cas_login_url: {
      ...httpUrl,
      description: 'The CAS login page, e.g. https://cas.example.edu/cas/login. The hub sends people there with ?service=<cas_service_url>.',
    },
    cas_service_url: {
      ...httpUrl,
      description:
        'The service URL CAS returns to with ?ticket=: the hub\'s public .../hub/oauth_callback URL. Default: that URL as the browser reached the hub. ' +
        'Set it when the hub sits behind a proxy that rewrites hosts, or when the CAS server only accepts a registered URL.',
    },
    cas_service_validate_url: {
      ...httpUrl,
      description:
        'Where tickets are validated. Default: cas_login_url with /login replaced by /p3/serviceValidate (cas_version 3.0) or /serviceValidate (2.0).',
    },
    cas_logout_url: {
      ...httpUrl,
      description: 'CAS logout, e.g. https://cas.example.edu/cas/logout. When set, logging out of the hub also ends the CAS session (single logout) and CAS returns to the hub login page.',
    },
    cas_version: { type: 'string', enum: ['2.0', '3.0'], default: '3.0', description: "CAS protocol version: '3.0' (attributes released by /p3/serviceValidate) or '2.0'." },
    cas_ca_bundle: {
      type: 'string',
      description: 'PEM file of the CA certificate(s) that signed the CAS server\'s certificate, for ticket validation. Default: the system\'s trusted CAs.',
    },
    cas_validate_timeout: { type: 'number', exclusiveMinimum: 0, default: 10, description: 'Seconds to wait for the CAS server to answer a ticket validation.' },
    login_service: { type: 'string', minLength: 1, default: 'CAS', description: 'Shown on the login button: "Sign in with <login_service>".' },
    username_attribute: {
      type: 'string',
      minLength: 1,
      description: 'Take the hub username from this released attribute (its first value) instead of <cas:user>.',
    },
    required_attributes: {
      ...attributeRule,
      description:
        'Lets in people whose released attributes carry, for every attribute listed, one of its values, e.g. {affiliation: [student]}. ' +
        'An allow rule like allowed_users: admin_users and allowed_users still get in without it; blocked_users is still refused.',
    },
    admin_attributes: {
      ...attributeRule,
      description: 'Makes admins of people with any of these attribute values, e.g. {memberOf: ["cn=jupyter-admins,ou=groups,dc=example,dc=edu"]}; others lose admin at login unless in admin_users.',
    },
    groups_attribute: {
      type: 'string',
      minLength: 1,
      description: 'The values of this released attribute become the user\'s hub groups (applied when manage_groups is on).',
    },
  },
} as const;

/** The options after defaults, with the validate URL worked out. */
export interface CasSettings {
  loginUrl: string;
  serviceUrl: string | undefined;
  validateUrl: string;
  logoutUrl: string | undefined;
  version: '2.0' | '3.0';
  caBundle: string | undefined;
  timeoutMs: number;
  loginService: string;
  usernameAttribute: string | undefined;
  requiredAttributes: Record<string, string[]>;
  adminAttributes: Record<string, string[]> | undefined;
  groupsAttribute: string | undefined;
}

const key = (name: string) => `authenticator.${name}`;

/** Throws HubError(500) naming the key when `value` is set and is not an absolute http(s) URL. */
function checkUrl(name: string, value: string | undefined): void {
  if (value === undefined) return;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new HubError(500, `${key(name)}: not a URL (got ${JSON.stringify(value)})`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new HubError(500, `${key(name)}: must be an http(s) URL (got ${JSON.stringify(value)})`);
}

/** The CAS server's validation endpoint next to its /login page. */
export function defaultValidateUrl(loginUrl: string, version: '2.0' | '3.0'): string | undefined {
  const url = new URL(loginUrl);
  if (!/\/login\/?$/.test(url.pathname)) return undefined;
  url.pathname = url.pathname.replace(/\/login\/?$/, version === '3.0' ? '/p3/serviceValidate' : '/serviceValidate');
  url.search = '';
  return url.href;
}

/**
 * Checks the options a schema cannot (URLs parse, the validate URL can be worked out) and fills defaults.
 * Throws HubError naming the key path; the hub refuses to start.
 */
export function resolveSettings(config: CasConfig): CasSettings {
  if (config.cas_login_url === undefined) throw new HubError(500, `${key('cas_login_url')}: required for kind 'cas' (e.g. https://cas.example.edu/cas/login)`);
  for (const name of ['cas_login_url', 'cas_service_url', 'cas_service_validate_url', 'cas_logout_url'] as const) checkUrl(name, config[name]);
  const version = config.cas_version ?? '3.0';
  const validateUrl = config.cas_service_validate_url ?? defaultValidateUrl(config.cas_login_url, version);
  if (validateUrl === undefined) {
    throw new HubError(500, `${key('cas_service_validate_url')}: required, because cas_login_url does not end in /login and the validate URL cannot be derived from it`);
  }
  return {
    loginUrl: config.cas_login_url,
    serviceUrl: config.cas_service_url,
    validateUrl,
    logoutUrl: config.cas_logout_url,
    version,
    caBundle: config.cas_ca_bundle,
    timeoutMs: (config.cas_validate_timeout ?? 10) * 1000,
    loginService: config.login_service ?? 'CAS',
    usernameAttribute: config.username_attribute,
    requiredAttributes: config.required_attributes ?? {},
    adminAttributes: config.admin_attributes,
    groupsAttribute: config.groups_attribute,
  };
}

/** Adds `params` to `base`, keeping any query it already has. */
export function withQuery(base: string, params: Record<string, string>): string {
  const url = new URL(base);
  for (const [name, value] of Object.entries(params)) url.searchParams.set(name, value);
  return url.href;
}
