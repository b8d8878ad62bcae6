import type { AuthModel, JsonObject } from '@tshub/plugin-api';
import type { ApiResponse } from './provider-client.js';

/** What a provider profile may ask the provider, with the signed-in user's access token. */
export interface ProviderApi {
  /** GET with the access token; any HTTP status is returned. Throws HubError(503) when unreachable. */
  get(url: string): Promise<ApiResponse>;
}

/**
 * How one provider differs from plain OpenID Connect (GitHub: teams as groups, organisation rules).
 * The OAuth core owns the flow, tokens, errors and refresh; a profile only reads extra facts.
 */
export interface OAuthProfile {
  /** auth_state key of the user data (OAuthenticator's names: `oauth_user`, `github_user`). */
  readonly userAuthStateKey: string;
  /** Whether the profile's own rules (allowed organisations) can let someone in. */
  readonly hasAllowRules: boolean;
  /**
   * Groups and extra auth_state entries for a user, read after their claims. groups undefined: the
   * profile has no opinion (the claim named by claim_groups_key is used); null: they could not be read
   * (the hub then leaves the user's memberships as they are).
   */
  enrich?(api: ProviderApi, claims: JsonObject): Promise<{ groups?: string[] | null; authState?: JsonObject }>;
  /** Extra allow rule (allowed_organizations). Runs only when the hub's own rules did not let the user in. */
  checkAllowed?(api: ProviderApi, model: AuthModel): Promise<boolean>;
}

/** Plain OpenID Connect / OAuth 2: groups come from a claim, nothing else to ask. */
export const genericProfile: OAuthProfile = { userAuthStateKey: 'oauth_user', hasAllowRules: false };
