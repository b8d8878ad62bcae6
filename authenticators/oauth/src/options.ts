/**
 * Options of `kind: oauth` (aliases `oidc`, `generic-oauth`), named as OAuthenticator users know them.
 * Fields are optional because the hub fills defaults from the schema; {@link resolveOAuthOptions} applies
 * the same defaults again so that a plugin created without validation behaves the same.
 */
export type OAuthConfig = {
  client_id?: string;
  client_secret?: string;
  oauth_callback_url?: string;
  oidc_issuer?: string;
  authorize_url?: string;
  token_url?: string;
  userdata_url?: string;
  userdata_from_id_token?: boolean;
  scope?: string[];
  username_claim?: string;
  claim_groups_key?: string;
  allowed_groups?: string[];
  admin_groups?: string[];
  logout_redirect_url?: string;
  oidc_logout?: boolean;
  allow_insecure_http?: boolean;
  enable_pkce?: boolean;
  basic_auth?: boolean;
  login_service?: string;
  extra_authorize_params?: Record<string, string>;
};

const strings = (description: string) => ({ type: 'array', items: { type: 'string' }, default: [], description });
const str = (def: string, description: string) => ({ type: 'string', default: def, description });
const bool = (def: boolean, description: string) => ({ type: 'boolean', default: def, description });

/** JSON Schema properties shared by every OAuth-based kind (the GitHub profile adds its own). */
export const oauthCommonProperties = {
  client_id: str('', 'Client id of the OAuth app registered at the provider. Empty: the OAUTH_CLIENT_ID environment variable.'),
  client_secret: str('', 'Client secret of the OAuth app. Empty: the OAUTH_CLIENT_SECRET environment variable (keep secrets out of config files).'),
  oauth_callback_url: str(
    '',
    "The callback URL registered at the provider. Empty: the hub's own https://<host>/hub/oauth_callback. Set it when the hub sits behind another proxy.",
  ),
  scope: strings('Scopes to request. Empty: the kind\'s default (openid profile email for OpenID Connect).'),
  username_claim: str('', 'Claim (or dotted path into the user data) that becomes the hub username. Empty: the kind\'s default (preferred_username for OpenID Connect).'),
  allowed_groups: strings('Let in everyone whose groups (see claim_groups_key) include one of these, in addition to allowed_users.'),
  admin_groups: strings('Make admin everyone whose groups include one of these; when set, admin is re-evaluated at every login (admin_users stay admin).'),
  logout_redirect_url: str('', 'Where the browser goes after logging out of the hub, e.g. the provider\'s logout page.'),
  allow_insecure_http: bool(false, 'Allow http:// provider URLs. Only for a test provider on a trusted host: tokens cross the network in clear text.'),
  enable_pkce: bool(true, 'Use PKCE (S256) in the authorization code flow. Turn off only for a provider that rejects it.'),
  login_service: str('', 'Name on the login button: "Sign in with <login_service>".'),
  extra_authorize_params: {
    type: 'object',
    additionalProperties: { type: 'string' },
    default: {},
    description: 'Extra query parameters for the authorize URL, e.g. {prompt: login} or {hd: example.edu}.',
  },
} as const;

/** The `oauth` kind's JSON Schema properties. */
export const oauthConfigProperties = {
  ...oauthCommonProperties,
  oidc_issuer: str('', 'OpenID Connect issuer URL; endpoints are discovered from <issuer>/.well-known/openid-configuration. Or set authorize_url and token_url.'),
  authorize_url: str('', 'Authorization endpoint (when not discovered, or to override discovery).'),
  token_url: str('', 'Token endpoint (when not discovered, or to override discovery).'),
  userdata_url: str('', 'User info endpoint (when not discovered, or to override discovery). Without oidc_issuer the user is read only from here: an id_token cannot be validated without a known issuer.'),
  userdata_from_id_token: bool(false, 'Take the user\'s claims from the id_token only and skip the user info request.'),
  claim_groups_key: str('groups', 'Claim (or dotted path, e.g. realm_access.roles) holding the user\'s groups; used by allowed_groups, admin_groups and manage_groups.'),
  oidc_logout: bool(true, "On logout, also end the session at the provider (OpenID end_session_endpoint) when it offers one. Register the hub's /hub/login URL as a post-logout redirect URI there."),
  basic_auth: bool(true, 'Authenticate to the token endpoint with HTTP Basic (client_secret_basic); false sends the secret in the form body (client_secret_post).'),
} as const;

/** Everything the OAuth core needs, with defaults applied and environment fallbacks read. */
export interface OAuthSettings {
  clientId: string;
  clientSecret: string;
  callbackUrlOverride: string | null;
  issuer: string | null;
  authorizeUrl: string | null;
  tokenUrl: string | null;
  userdataUrl: string | null;
  userdataFromIdToken: boolean;
  scope: string[];
  usernameClaim: string;
  groupsClaim: string;
  allowedGroups: string[];
  adminGroups: string[];
  logoutRedirectUrl: string | null;
  oidcLogout: boolean;
  allowInsecureHttp: boolean;
  enablePkce: boolean;
  basicAuth: boolean;
  loginService: string;
  extraAuthorizeParams: Record<string, string>;
}

const nonEmpty = (v: string | undefined): string | null => (v !== undefined && v.trim() !== '' ? v.trim() : null);

/** Reads a validated (or raw) config section into settings; `defaults` are the kind's own. */
export function resolveOAuthOptions(
  c: OAuthConfig,
  defaults: { scope: string[]; usernameClaim: string; loginService: string; basicAuth: boolean },
  env: NodeJS.ProcessEnv = process.env,
): OAuthSettings {
  return {
    clientId: nonEmpty(c.client_id) ?? env.OAUTH_CLIENT_ID ?? '',
    clientSecret: nonEmpty(c.client_secret) ?? env.OAUTH_CLIENT_SECRET ?? '',
    callbackUrlOverride: nonEmpty(c.oauth_callback_url) ?? nonEmpty(env.OAUTH_CALLBACK_URL),
    issuer: nonEmpty(c.oidc_issuer),
    authorizeUrl: nonEmpty(c.authorize_url),
    tokenUrl: nonEmpty(c.token_url),
    userdataUrl: nonEmpty(c.userdata_url),
    userdataFromIdToken: c.userdata_from_id_token ?? false,
    scope: c.scope && c.scope.length > 0 ? c.scope : defaults.scope,
    usernameClaim: nonEmpty(c.username_claim) ?? defaults.usernameClaim,
    groupsClaim: nonEmpty(c.claim_groups_key) ?? 'groups',
    allowedGroups: c.allowed_groups ?? [],
    adminGroups: c.admin_groups ?? [],
    logoutRedirectUrl: nonEmpty(c.logout_redirect_url),
    oidcLogout: c.oidc_logout ?? true,
    allowInsecureHttp: c.allow_insecure_http ?? false,
    enablePkce: c.enable_pkce ?? true,
    basicAuth: c.basic_auth ?? defaults.basicAuth,
    loginService: nonEmpty(c.login_service) ?? defaults.loginService,
    extraAuthorizeParams: c.extra_authorize_params ?? {},
  };
}
