import type { AuthModel, JsonObject, JsonValue, PluginLogger } from '@tshub/plugin-api';
import type { OAuthProfile, ProviderApi } from '@tshub/authenticator-oauth';
import type { GithubEndpoints } from './options.js';

/** Most pages of /user/teams read at one login (100 teams each): a bound, not a realistic limit. */
const MAX_TEAM_PAGES = 10;

/** The URL of the `rel="next"` page in a GitHub Link header, if any. */
export function nextLink(link: string | null): string | null {
  if (!link) return null;
  for (const part of link.split(',')) {
    const m = /<([^>]+)>\s*;\s*rel="?next"?/.exec(part);
    if (m) return m[1]!;
  }
  return null;
}

/** Splits an allowed_organizations entry into org and optional team slug. */
export function parseOrgRule(entry: string): { org: string; team: string | null } {
  const [org, team] = entry.split(':');
  return { org: org!, team: team ?? null };
}

/** Whether the scope lets the token list the user's e-mail addresses (GET /user/emails). */
export const scopeReadsEmail = (scope: readonly string[]): boolean => scope.includes('user:email') || scope.includes('user');

type Email = { email: string; primary: boolean; verified: boolean };
const isEmail = (v: unknown): v is Email =>
  typeof v === 'object' && v !== null && typeof (v as Email).email === 'string' && typeof (v as Email).primary === 'boolean' && typeof (v as Email).verified === 'boolean';

type Team = { slug: string; organization: { login: string } };
const isTeam = (v: unknown): v is Team & JsonObject =>
  typeof v === 'object' && v !== null && typeof (v as Team).slug === 'string' && typeof (v as Team).organization?.login === 'string';

/** GitHub's facts beyond /user: teams as `org:team-slug` groups, and organisation/team allow rules. */
export function githubProfile(opts: {
  endpoints: GithubEndpoints;
  allowedOrganizations: string[];
  readTeams: boolean;
  teamsInAuthState: boolean;
  /** The scope asks for e-mail addresses (user:email or user): a private one is read from /user/emails. */
  readEmail: boolean;
  log: PluginLogger;
}): OAuthProfile {
  const { endpoints, log } = opts;
  const api = (path: string) => `${endpoints.api}${path}`;
  const seg = encodeURIComponent;

  async function teams(client: ProviderApi): Promise<Team[] | undefined> {
    const all: Team[] = [];
    let url: string | null = api('/user/teams?per_page=100');
    for (let page = 0; url !== null && page < MAX_TEAM_PAGES; page++) {
      const res = await client.get(url);
      if (res.status !== 200 || !Array.isArray(res.body)) {
        // Without read:org GitHub refuses; the login still works, without team groups.
        log.warn({ status: res.status }, 'GET /user/teams failed: teams are not available as groups (does the scope include read:org?)');
        return undefined;
      }
      all.push(...res.body.filter(isTeam));
      url = nextLink(res.headers.get('link'));
    }
    return all;
  }

  /** The primary verified address, or null; never fails the login (the e-mail is a convenience). */
  async function primaryEmail(client: ProviderApi): Promise<string | null> {
    let res: Awaited<ReturnType<ProviderApi['get']>>;
    try {
      res = await client.get(api('/user/emails?per_page=100'));
    } catch (err) {
      log.warn({ err: err instanceof Error ? err.message : String(err) }, 'GET /user/emails failed: the private e-mail is not in auth_state');
      return null;
    }
    if (res.status !== 200 || !Array.isArray(res.body)) {
      // 404: the user did not grant user:email (GitHub lets them narrow the requested scope).
      log.warn({ status: res.status }, 'GET /user/emails failed: the private e-mail is not in auth_state (was the user:email scope granted?)');
      return null;
    }
    const primary = res.body.filter(isEmail).find((e) => e.primary);
    if (primary && !primary.verified) log.info('the primary GitHub e-mail is not verified: not put in auth_state');
    return primary?.verified ? primary.email : null;
  }

  async function isMember(client: ProviderApi, login: string, rule: string): Promise<boolean> {
    const { org, team } = parseOrgRule(rule);
    const path = team === null ? `/orgs/${seg(org)}/members/${seg(login)}` : `/orgs/${seg(org)}/teams/${seg(team)}/memberships/${seg(login)}`;
    const res = await client.get(api(path));
    // Organisation: 204 member, 404 not, 302 when the token cannot see private membership.
    if (team === null) {
      if (res.status === 302) log.info({ org }, 'organisation membership not visible to this token (302): counted as not a member');
      return res.status === 204;
    }
    const body = res.body as { state?: unknown } | null;
    return res.status === 200 && body?.state === 'active';
  }

  return {
    userAuthStateKey: 'github_user',
    hasAllowRules: opts.allowedOrganizations.length > 0,
    async enrich(client, claims) {
      const authState: JsonObject = {};
      // /user shows only a public e-mail; a private one is listed by /user/emails (as OAuthenticator does).
      if (opts.readEmail && (claims.email === null || claims.email === undefined)) {
        const email = await primaryEmail(client);
        if (email !== null) authState.github_user = { ...claims, email };
      }
      if (!opts.readTeams) return { authState };
      const list = await teams(client);
      if (list === undefined) return { groups: null, authState };
      const groups = [...new Set(list.map((t) => `${t.organization.login}:${t.slug}`))];
      if (opts.teamsInAuthState) authState.teams = list as unknown as JsonValue[];
      return { groups, authState };
    },
    async checkAllowed(client, model: AuthModel) {
      const user = model.authState?.github_user;
      const login = typeof user === 'object' && user !== null && !Array.isArray(user) && typeof user.login === 'string' ? user.login : model.name;
      for (const rule of opts.allowedOrganizations) {
        if (await isMember(client, login, rule)) return true;
      }
      return false;
    },
  };
}
