import { HubError } from '@tshub/plugin-api';
import type { Authenticator, AuthModel, JsonObject, LoginInput, PluginLogger } from '@tshub/plugin-api';
import * as oidc from 'openid-client';
import { groupsFrom, inAnyGroup, usernameFrom } from './claims.js';
import type { OAuthSettings } from './options.js';
import type { OAuthProfile, ProviderApi } from './profile.js';
import { createClientConfig, getJsonObject, getWithToken, UNVALIDATED_ID_TOKEN } from './provider-client.js';
import { authorizationRefusal, describe, providerError } from './provider-errors.js';
import { validateSettings } from './validate-settings.js';

/** Refresh this long before the access token expires, so a spawn does not start with a dying token. */
const EXPIRY_MARGIN_SECONDS = 60;

/** What loginRedirect remembers (in the hub's signed cookie) until the callback. */
type Pending = { state: string; code_verifier: string | null; nonce: string | null; redirect_uri: string };

function readPending(p: JsonObject | null | undefined): Pending | null {
  if (!p || typeof p.state !== 'string' || typeof p.redirect_uri !== 'string') return null;
  return {
    state: p.state,
    redirect_uri: p.redirect_uri,
    code_verifier: typeof p.code_verifier === 'string' ? p.code_verifier : null,
    nonce: typeof p.nonce === 'string' ? p.nonce : null,
  };
}

const nowSeconds = () => Math.floor(Date.now() / 1000);

/** The authorization code flow on openid-client, shaped by a provider profile. */
export class OAuthAuthenticator implements Authenticator {
  readonly loginKind = 'redirect' as const;
  readonly loginLabel: string;
  readonly hasAllowRules: boolean;
  readonly #s: OAuthSettings;
  readonly #profile: OAuthProfile;
  readonly #log: PluginLogger;
  #config: Promise<oidc.Configuration> | null = null;
  /** The resolved configuration, once known: logoutRedirect is synchronous. */
  #ready: oidc.Configuration | null = null;

  constructor(settings: OAuthSettings, profile: OAuthProfile, log: PluginLogger) {
    this.#s = settings;
    this.#profile = profile;
    this.#log = log;
    this.loginLabel = `Sign in with ${settings.loginService}`;
    this.hasAllowRules = settings.allowedGroups.length > 0 || settings.adminGroups.length > 0 || profile.hasAllowRules;
  }

  /** Discovery (or explicit endpoints), once; a failure is not cached, so the next login retries. */
  #client(): Promise<oidc.Configuration> {
    this.#config ??= createClientConfig(this.#s).then(
      (c) => (this.#ready = c),
      (err: unknown) => {
        this.#config = null;
        this.#log.warn({ err: describe(err) }, `${this.#s.loginService}: endpoint discovery failed`);
        throw providerError(err, this.#s.loginService, 'discovery');
      },
    );
    return this.#config;
  }

  /** OpenID Connect proper (nonce, validated id_token) needs a known issuer, i.e. discovery. */
  get #isOidc(): boolean {
    return this.#s.issuer !== null && this.#s.scope.includes('openid');
  }

  async validateConfig(): Promise<void> {
    await validateSettings(this.#s);
    try {
      this.#ready = await createClientConfig(this.#s);
    } catch (err) {
      if (err instanceof HubError) throw err;
      const where = this.#s.issuer !== null ? `discovery at ${discoveryUrl(this.#s.issuer)}` : 'client set-up';
      throw new HubError(500, `authenticator.oidc_issuer: ${where} failed: ${describe(err)}`);
    }
    this.#config = Promise.resolve(this.#ready);
  }

  async loginRedirect(ctx: { callbackUrl: string }): Promise<{ url: string; pending: JsonObject }> {
    const config = await this.#client();
    const redirectUri = this.#s.callbackUrlOverride ?? ctx.callbackUrl;
    const state = oidc.randomState();
    const params: Record<string, string> = { ...this.#s.extraAuthorizeParams, redirect_uri: redirectUri, scope: this.#s.scope.join(' '), state };
    let codeVerifier: string | null = null;
    if (this.#s.enablePkce) {
      codeVerifier = oidc.randomPKCECodeVerifier();
      params.code_challenge = await oidc.calculatePKCECodeChallenge(codeVerifier);
      params.code_challenge_method = 'S256';
    }
    const nonce = this.#isOidc ? oidc.randomNonce() : null;
    if (nonce !== null) params.nonce = nonce;
    const url = oidc.buildAuthorizationUrl(config, params).href;
    return { url, pending: { state, code_verifier: codeVerifier, nonce, redirect_uri: redirectUri } };
  }

  async authenticate(input: LoginInput): Promise<AuthModel | null> {
    const service = this.#s.loginService;
    const pending = readPending(input.pending);
    if (pending === null) {
      throw new HubError(400, 'This sign-in link has expired or was opened in another browser. Start the login again.');
    }
    const f = input.fields;
    if (f.error !== undefined) throw authorizationRefusal(service, f.error.slice(0, 100), f.error_description?.slice(0, 300));
    if (f.state !== pending.state) {
      throw new HubError(400, 'The sign-in answer does not belong to this login (state mismatch): it may come from an older tab. Start the login again.', {
        logMessage: 'oauth state mismatch',
      });
    }
    if (!f.code) throw new HubError(400, `${service} sent no authorization code. Start the login again.`);
    const config = await this.#client();
    // The callback URL as the provider was told, not as this request arrived (a proxy may rewrite it).
    const currentUrl = new URL(pending.redirect_uri);
    for (const [k, v] of Object.entries(f)) currentUrl.searchParams.set(k, v);
    // Without discovery the issuer is unknown, so the provider's `iss` parameter cannot be compared.
    if (this.#s.issuer === null) currentUrl.searchParams.delete('iss');
    let tokens: Awaited<ReturnType<typeof oidc.authorizationCodeGrant>>;
    try {
      tokens = await oidc.authorizationCodeGrant(config, currentUrl, {
        expectedState: pending.state,
        ...(pending.code_verifier !== null ? { pkceCodeVerifier: pending.code_verifier } : {}),
        ...(pending.nonce !== null ? { expectedNonce: pending.nonce } : {}),
      });
    } catch (err) {
      const e = providerError(err, service, 'token exchange');
      this.#log.warn({ err: e.logMessage ?? e.message }, 'OAuth login failed');
      throw e;
    }
    return this.#modelFrom(config, tokens, null);
  }

  /** Reads who the tokens belong to and builds the auth model (login and refresh share it). */
  async #modelFrom(config: oidc.Configuration, tokens: oidc.TokenEndpointResponse & oidc.TokenEndpointResponseHelpers, oldRefresh: string | null): Promise<AuthModel> {
    const service = this.#s.loginService;
    const api = this.#api(config, tokens.access_token);
    const idClaims = (tokens.claims() ?? {}) as JsonObject;
    let claims: JsonObject = { ...idClaims };
    const userinfoUrl = this.#s.userdataUrl ?? config.serverMetadata().userinfo_endpoint;
    if (userinfoUrl && !(this.#s.userdataFromIdToken && tokens.id_token)) {
      const info = await getJsonObject(config, tokens.access_token, userinfoUrl, service).catch((err: unknown) => {
        throw providerError(err, service, 'user info');
      });
      if (typeof idClaims.sub === 'string' && typeof info.sub === 'string' && info.sub !== idClaims.sub) {
        throw new HubError(502, `${service} returned user information for a different account. Start the login again.`, { logMessage: 'userinfo sub != id_token sub' });
      }
      claims = { ...claims, ...info };
    }
    const name = usernameFrom(claims, this.#s.usernameClaim);
    if (name === null) {
      this.#log.warn({ claims: Object.keys(claims) }, `username claim '${this.#s.usernameClaim}' missing; set authenticator.username_claim to one of these`);
      throw new HubError(403, `${service} did not say who you are (no '${this.#s.usernameClaim}' in your account data). Tell an administrator.`);
    }
    const extra = this.#profile.enrich ? await this.#profile.enrich(api, claims) : {};
    // A missing groups claim means "in no group" (as in OAuthenticator: manage_groups then removes
    // stale memberships); null from a profile means "unknown", and memberships are left alone.
    const groups = extra.groups === null ? undefined : (extra.groups ?? groupsFrom(claims, this.#s.groupsClaim) ?? []);
    const authState: JsonObject = {
      access_token: tokens.access_token,
      refresh_token: tokens.refresh_token ?? oldRefresh,
      id_token: tokens.id_token ?? (typeof tokens[UNVALIDATED_ID_TOKEN] === 'string' ? tokens[UNVALIDATED_ID_TOKEN] : null),
      token_type: tokens.token_type,
      scope: tokens.scope ?? this.#s.scope.join(' '),
      expires_at: typeof tokens.expires_in === 'number' ? nowSeconds() + tokens.expires_in : null,
      [this.#profile.userAuthStateKey]: claims,
      ...extra.authState,
    };
    const model: AuthModel = { name, authState };
    if (groups !== undefined) model.groups = groups;
    if (this.#s.adminGroups.length > 0) model.admin = inAnyGroup(groups, this.#s.adminGroups);
    return model;
  }

  #api(config: oidc.Configuration, accessToken: string): ProviderApi {
    const service = this.#s.loginService;
    return {
      get: (url) =>
        getWithToken(config, accessToken, url).catch((err: unknown) => {
          throw providerError(err, service, `GET ${url}`);
        }),
    };
  }

  async checkAllowed(_name: string, model: AuthModel): Promise<boolean> {
    if (model.admin === true && this.#s.adminGroups.length > 0) return true;
    if (inAnyGroup(model.groups, this.#s.allowedGroups)) return true;
    if (!this.#profile.checkAllowed) return false;
    const token = model.authState?.access_token;
    if (typeof token !== 'string') return false;
    return this.#profile.checkAllowed(this.#api(await this.#client(), token), model);
  }

  async refreshUser(user: { name: string; authState: JsonObject | null }): Promise<AuthModel | boolean> {
    const state = user.authState;
    // Without stored tokens there is nothing to re-check (auth_state not kept): the login stands.
    if (!state || typeof state.access_token !== 'string') return true;
    const expiresAt = typeof state.expires_at === 'number' ? state.expires_at : null;
    if (expiresAt === null || expiresAt - EXPIRY_MARGIN_SECONDS > nowSeconds()) return true;
    const refresh = typeof state.refresh_token === 'string' ? state.refresh_token : null;
    if (refresh === null) {
      this.#log.info({ user: user.name }, 'access token expired and there is no refresh token: asking for a new login');
      return false;
    }
    try {
      const config = await this.#client();
      const tokens = await oidc.refreshTokenGrant(config, refresh);
      const model = await this.#modelFrom(config, tokens, refresh);
      // The hub name may differ from the provider's (username_map, post_auth_hook): compare the
      // provider's stable id (OIDC sub, GitHub id) from before and after instead.
      const key = this.#profile.userAuthStateKey;
      const stableId = (claims: unknown) => {
        const c = claims && typeof claims === 'object' ? (claims as JsonObject) : {};
        return c.sub ?? c.id;
      };
      const before = stableId(state[key]);
      const after = stableId(model.authState?.[key]);
      if (before !== undefined && after !== undefined && String(before) !== String(after)) {
        this.#log.warn({ user: user.name, got: model.name }, 'token refresh returned another account: asking for a new login');
        return false;
      }
      return { ...model, name: user.name };
    } catch (err) {
      this.#log.info({ user: user.name, err: err instanceof HubError ? (err.logMessage ?? err.message) : describe(err) }, 'token refresh failed: asking for a new login');
      return false;
    }
  }

  logoutRedirect(ctx: { hubLoginUrl: string; authState: JsonObject | null }): string | null {
    if (this.#s.logoutRedirectUrl !== null) return this.#s.logoutRedirectUrl;
    const config = this.#ready;
    if (!this.#s.oidcLogout || config === null || !config.serverMetadata().end_session_endpoint) return null;
    const params: Record<string, string> = { client_id: this.#s.clientId, post_logout_redirect_uri: ctx.hubLoginUrl };
    const idToken = ctx.authState?.id_token;
    if (typeof idToken === 'string') params.id_token_hint = idToken;
    return oidc.buildEndSessionUrl(config, params).href;
  }
}

function discoveryUrl(issuer: string): string {
  return new URL('.well-known/openid-configuration', issuer.endsWith('/') ? issuer : issuer + '/').href;
}
