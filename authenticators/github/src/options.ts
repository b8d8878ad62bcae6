import { oauthCommonProperties, resolveOAuthOptions, type OAuthConfig, type OAuthSettings } from '@tshub/authenticator-oauth';

/** Options of `kind: github`: the common OAuth options plus GitHubOAuthenticator's own. */
export type GithubConfig = OAuthConfig & {
  github_url?: string;
  github_api_url?: string;
  allowed_organizations?: string[];
  populate_teams_in_auth_state?: boolean;
  /** The hub's common option; read to know whether teams must be fetched as groups. */
  manage_groups?: boolean;
};

export const githubConfigProperties = {
  ...oauthCommonProperties,
  github_url: {
    type: 'string',
    default: 'https://github.com',
    description: 'GitHub, or a GitHub Enterprise Server such as https://github.example.edu (its API is then at /api/v3).',
  },
  github_api_url: {
    type: 'string',
    default: '',
    description: 'The REST API base URL. Empty: https://api.github.com for github.com, <github_url>/api/v3 for Enterprise.',
  },
  allowed_organizations: {
    type: 'array',
    items: { type: 'string', pattern: '^[^:/\\s]+(:[^:/\\s]+)?$' },
    default: [],
    description: "Let in members of these organisations ('org') or teams ('org:team-slug', the slug as in the team's URL). Needs the read:org scope, added by default.",
  },
  populate_teams_in_auth_state: {
    type: 'boolean',
    default: false,
    description: "Keep the user's teams (GET /user/teams) in auth_state['teams'], for spawners and hooks. Teams always become groups ('org:team-slug') with manage_groups.",
  },
} as const;

/** Where GitHub (or an Enterprise server) keeps the OAuth endpoints and the API. */
export interface GithubEndpoints {
  authorize: string;
  token: string;
  api: string;
}

export function githubEndpoints(githubUrl: string, apiUrl: string): GithubEndpoints {
  const base = githubUrl.replace(/\/+$/, '');
  const isDotCom = /^https:\/\/(www\.)?github\.com$/i.test(base);
  return {
    authorize: `${base}/login/oauth/authorize`,
    token: `${base}/login/oauth/access_token`,
    api: (apiUrl.trim() || (isDotCom ? 'https://api.github.com' : `${base}/api/v3`)).replace(/\/+$/, ''),
  };
}

/** Whether teams must be read at login: they are groups (manage_groups, group rules) or kept in auth_state. */
export function needsTeams(c: GithubConfig): boolean {
  return c.populate_teams_in_auth_state === true || c.manage_groups === true || (c.allowed_groups?.length ?? 0) > 0 || (c.admin_groups?.length ?? 0) > 0;
}

/** OAuth settings for GitHub: explicit endpoints, `login` as the username, the scopes the rules need. */
export function resolveGithubSettings(c: GithubConfig, env: NodeJS.ProcessEnv = process.env): { settings: OAuthSettings; endpoints: GithubEndpoints } {
  const endpoints = githubEndpoints(c.github_url?.trim() || 'https://github.com', c.github_api_url ?? '');
  const readOrg = (c.allowed_organizations?.length ?? 0) > 0 || needsTeams(c);
  const settings = resolveOAuthOptions(
    // GitHub is plain OAuth 2: these keys of the generic kind do not apply and are not in the schema.
    { ...c, oidc_issuer: '', authorize_url: endpoints.authorize, token_url: endpoints.token, userdata_url: `${endpoints.api}/user` },
    { scope: readOrg ? ['read:user', 'read:org'] : ['read:user'], usernameClaim: 'login', loginService: 'GitHub', basicAuth: false },
    env,
  );
  return { settings: { ...settings, oidcLogout: false }, endpoints };
}
