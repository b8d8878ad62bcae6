/**
 * @tshub/authenticator-oauth: OAuth 2 / OpenID Connect login (`kind: oauth`, aliases `oidc`,
 * `generic-oauth`) on openid-client, and the core that provider profiles (GitHub) build on.
 */
import type { AuthContext, AuthenticatorPlugin } from '@tshub/plugin-api';
import { OAuthAuthenticator } from './oauth-authenticator.js';
import { oauthConfigProperties, resolveOAuthOptions, type OAuthConfig } from './options.js';
import { genericProfile } from './profile.js';

export const oauthAuthenticator: AuthenticatorPlugin<OAuthConfig> = {
  kind: 'oauth',
  configSchema: { type: 'object', properties: oauthConfigProperties },
  create(ctx: AuthContext<OAuthConfig>) {
    const settings = resolveOAuthOptions(ctx.config, {
      scope: ['openid', 'profile', 'email'],
      usernameClaim: 'preferred_username',
      loginService: 'OpenID Connect',
      basicAuth: true,
    });
    return new OAuthAuthenticator(settings, genericProfile, ctx.log);
  },
};

export { OAuthAuthenticator } from './oauth-authenticator.js';
export { oauthCommonProperties, oauthConfigProperties, resolveOAuthOptions } from './options.js';
export type { OAuthConfig, OAuthSettings } from './options.js';
export type { OAuthProfile, ProviderApi } from './profile.js';
export type { ApiResponse } from './provider-client.js';
export { claimAt, groupsFrom, inAnyGroup, usernameFrom } from './claims.js';
