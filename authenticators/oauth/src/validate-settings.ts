import { HubError } from '@tshub/plugin-api';
import type { OAuthSettings } from './options.js';

/**
 * Start-up checks that need no network: the client id is there, every URL parses, provider URLs use
 * https (unless allow_insecure_http), and there is a way to find the endpoints. Throws a HubError whose
 * message starts with the key path, listing every problem at once.
 */
export async function validateSettings(s: OAuthSettings): Promise<void> {
  const problems: string[] = [];
  if (s.clientId === '') problems.push('authenticator.client_id: required (or set the OAUTH_CLIENT_ID environment variable)');
  const check = (key: string, value: string | null, provider: boolean) => {
    if (value === null) return;
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      problems.push(`authenticator.${key}: not a URL (got ${JSON.stringify(value)})`);
      return;
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') problems.push(`authenticator.${key}: must be an https URL (got ${url.protocol})`);
    else if (provider && url.protocol === 'http:' && !s.allowInsecureHttp) {
      problems.push(`authenticator.${key}: not an https URL; tokens would cross the network in clear text (set allow_insecure_http: true only for a test provider)`);
    }
  };
  check('oidc_issuer', s.issuer, true);
  check('authorize_url', s.authorizeUrl, true);
  check('token_url', s.tokenUrl, true);
  check('userdata_url', s.userdataUrl, true);
  check('oauth_callback_url', s.callbackUrlOverride, false);
  check('logout_redirect_url', s.logoutRedirectUrl, false);
  if (s.issuer === null && (s.authorizeUrl === null || s.tokenUrl === null)) {
    problems.push('authenticator.oidc_issuer: set oidc_issuer (OpenID Connect discovery), or both authorize_url and token_url');
  } else if (s.issuer === null && s.userdataUrl === null) {
    problems.push('authenticator.userdata_url: required without oidc_issuer (the user is read from it), or set oidc_issuer');
  }
  if (problems.length > 0) throw new HubError(500, problems.join('; '));
}
