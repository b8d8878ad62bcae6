import { HubError, type JsonObject } from '@tshub/plugin-api';
import * as oidc from 'openid-client';
import type { OAuthSettings } from './options.js';

/** Seconds any one request to the provider may take. */
const TIMEOUT_SECONDS = 15;

/** The key under which an id_token that could not be validated is handed through (explicit endpoints). */
export const UNVALIDATED_ID_TOKEN = 'tshub_unvalidated_id_token';

/**
 * Reshapes token endpoint answers before openid-client reads them:
 * - Some providers (GitHub among them) answer a refused token request with HTTP 200 and an `error`
 *   body; turning it into the 400 that RFC 6749 prescribes lets the error code (`bad_verification_code`,
 *   `invalid_grant`) reach the person instead of "malformed response".
 * - With explicit endpoints (no discovery) the issuer is unknown, so an id_token's `iss` cannot be
 *   checked; like OAuthenticator's generic kind, the user is read from userdata_url instead, and the
 *   id_token is only kept (for auth_state and logout hints) under another name.
 */
function tokenResponseFilter(tokenUrl: () => string | undefined, keepIdToken: boolean): oidc.CustomFetch {
  return async (url, options) => {
    const res = await fetch(url, options);
    if (res.status !== 200 || options.method !== 'POST' || url !== tokenUrl()) return res;
    const text = await res.text();
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      body = undefined;
    }
    if (typeof body !== 'object' || body === null) return new Response(text, { status: 200, headers: res.headers });
    const obj = body as Record<string, unknown>;
    const refused = 'error' in obj && !('access_token' in obj);
    if (!keepIdToken && typeof obj.id_token === 'string') {
      obj[UNVALIDATED_ID_TOKEN] = obj.id_token;
      delete obj.id_token;
    }
    return new Response(JSON.stringify(obj), { status: refused ? 400 : 200, headers: res.headers });
  };
}

/** The openid-client Configuration for these settings: discovered from the issuer, or from explicit endpoints. */
export async function createClientConfig(s: OAuthSettings): Promise<oidc.Configuration> {
  const auth = s.clientSecret === '' ? oidc.None() : s.basicAuth ? oidc.ClientSecretBasic(s.clientSecret) : oidc.ClientSecretPost(s.clientSecret);
  let tokenUrl: string | undefined;
  const customFetch = tokenResponseFilter(() => tokenUrl, s.issuer !== null);
  const execute = s.allowInsecureHttp ? [oidc.allowInsecureRequests] : [];
  let config: oidc.Configuration;
  if (s.issuer !== null) {
    const discovered = await oidc.discovery(new URL(s.issuer), s.clientId, undefined, auth, {
      execute,
      timeout: TIMEOUT_SECONDS,
      [oidc.customFetch]: customFetch,
    });
    const overrides = explicitEndpoints(s);
    if (Object.keys(overrides).length === 0) config = discovered;
    else config = new oidc.Configuration({ ...discovered.serverMetadata(), ...overrides }, s.clientId, undefined, auth);
  } else {
    if (s.authorizeUrl === null || s.tokenUrl === null) {
      throw new HubError(500, 'authenticator.oidc_issuer: set oidc_issuer (OpenID discovery) or both authorize_url and token_url');
    }
    config = new oidc.Configuration({ issuer: new URL(s.authorizeUrl).origin, ...explicitEndpoints(s) }, s.clientId, undefined, auth);
  }
  for (const fn of execute) fn(config);
  config.timeout = TIMEOUT_SECONDS;
  config[oidc.customFetch] = customFetch;
  tokenUrl = config.serverMetadata().token_endpoint;
  return config;
}

function explicitEndpoints(s: OAuthSettings): Partial<oidc.ServerMetadata> {
  return {
    ...(s.authorizeUrl !== null ? { authorization_endpoint: s.authorizeUrl } : {}),
    ...(s.tokenUrl !== null ? { token_endpoint: s.tokenUrl } : {}),
    ...(s.userdataUrl !== null ? { userinfo_endpoint: s.userdataUrl } : {}),
  };
}

/** What a bearer-token GET to the provider's API answered. */
export type ApiResponse = { status: number; body: unknown; headers: Headers };

/**
 * GET `url` with the user's access token (the user info endpoint, GitHub's API). Throws only when the
 * provider cannot be reached; any HTTP status is returned for the caller to judge.
 */
export async function getWithToken(config: oidc.Configuration, accessToken: string, url: string): Promise<ApiResponse> {
  const headers = new Headers({ accept: 'application/json' });
  let res: Response;
  try {
    res = await oidc.fetchProtectedResource(config, accessToken, new URL(url), 'GET', undefined, headers);
  } catch (err) {
    // A 401 with a WWW-Authenticate challenge is thrown rather than returned.
    if (err instanceof oidc.WWWAuthenticateChallengeError) return { status: err.response.status, body: null, headers: err.response.headers };
    throw err;
  }
  const text = await res.text();
  let body: unknown = null;
  try {
    body = text === '' ? null : JSON.parse(text);
  } catch {
    body = null;
  }
  return { status: res.status, body, headers: res.headers };
}

/** GET that must answer 200 with a JSON object (the user info endpoint). */
export async function getJsonObject(config: oidc.Configuration, accessToken: string, url: string, service: string): Promise<JsonObject> {
  const res = await getWithToken(config, accessToken, url);
  if (res.status !== 200 || typeof res.body !== 'object' || res.body === null || Array.isArray(res.body)) {
    throw new HubError(502, `${service} did not return your user information. Try again, or tell an administrator if it keeps happening.`, {
      logMessage: `GET ${url} answered HTTP ${res.status}`,
    });
  }
  return res.body as JsonObject;
}
