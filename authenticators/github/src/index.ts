/**
 * @tshub/authenticator-github: GitHub login (`kind: github`), a provider profile on the OAuth core:
 * organisation and team rules, teams as groups, GitHub Enterprise hosts, and with the user:email scope
 * a private e-mail in auth_state.github_user.email.
 */
import { HubError, type AuthContext, type AuthenticatorPlugin } from '@tshub/plugin-api';
import { OAuthAuthenticator } from '@tshub/authenticator-oauth';
import { githubProfile, scopeReadsEmail } from './github-profile.js';
import { githubConfigProperties, needsTeams, resolveGithubSettings, type GithubConfig } from './options.js';

/** GitHub's own start-up checks, before the common ones: its derived URLs must come from a sound github_url. */
function checkGithubUrls(c: GithubConfig): void {
  for (const key of ['github_url', 'github_api_url'] as const) {
    const value = c[key]?.trim();
    if (!value) continue;
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      throw new HubError(500, `authenticator.${key}: not a URL (got ${JSON.stringify(value)})`);
    }
    if (url.protocol === 'http:' && c.allow_insecure_http !== true) {
      throw new HubError(500, `authenticator.${key}: not an https URL; tokens would cross the network in clear text (set allow_insecure_http: true only for a test server)`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new HubError(500, `authenticator.${key}: must be an https URL (got ${url.protocol})`);
  }
}

class GithubAuthenticator extends OAuthAuthenticator {
  readonly #config: GithubConfig;
  constructor(config: GithubConfig, ...rest: ConstructorParameters<typeof OAuthAuthenticator>) {
    super(...rest);
    this.#config = config;
  }
  override async validateConfig(): Promise<void> {
    checkGithubUrls(this.#config);
    return super.validateConfig();
  }
}

export const githubAuthenticator: AuthenticatorPlugin<GithubConfig> = {
  kind: 'github',
  configSchema: { type: 'object', properties: githubConfigProperties },
  create(ctx: AuthContext<GithubConfig>) {
    const c = ctx.config;
    const { settings, endpoints } = resolveGithubSettings(c);
    const allowedOrganizations = c.allowed_organizations ?? [];
    if (allowedOrganizations.length > 0 && c.scope?.length && !settings.scope.includes('read:org')) {
      ctx.log.warn('authenticator.scope lacks read:org: private organisation and team membership will not count for allowed_organizations');
    }
    const profile = githubProfile({
      endpoints,
      allowedOrganizations,
      readTeams: needsTeams(c),
      teamsInAuthState: c.populate_teams_in_auth_state === true,
      readEmail: scopeReadsEmail(settings.scope),
      log: ctx.log,
    });
    return new GithubAuthenticator(c, settings, profile, ctx.log);
  },
};

export { githubEndpoints, githubConfigProperties } from './options.js';
export type { GithubConfig } from './options.js';
