import { randomBytes } from 'node:crypto';
import { HubError, type AuthModel, type AuthenticatorPlugin, type JsonObject } from '@tshub/plugin-api';
import type { BrowserClient, Page } from './browser-client.js';

/**
 * A redirect-kind authenticator whose "provider" lives in the test: loginRedirect sends the browser to
 * https://idp.invalid/authorize?state=...&redirect_uri=..., and the test plays the provider by requesting
 * the callback with `code` = one of `people`' keys (and the state). What the plugin does on refresh,
 * logout and start-up checks is set through `control`.
 */
export interface FakeRedirectControl {
  /** code -> the model authenticate returns for it (the code doubles as the person's identity). */
  people: Record<string, AuthModel>;
  /** refreshUser's answer per user name; absent: true. */
  refresh: Record<string, AuthModel | boolean | Error>;
  refreshCalls: string[];
  /** The auth_state each refreshUser call received. */
  refreshStates: Array<JsonObject | null>;
  /** Every loginRedirect call's callbackUrl. */
  callbackUrls: string[];
  /** What the last authenticate got. */
  lastInput: { pending: JsonObject | null | undefined; callbackUrl?: string; currentUrl?: string } | null;
  /** Set: logoutRedirect answers this URL. */
  logoutUrl: string | null;
  /** Set: validateConfig throws HubError(500, this). */
  validateError: string | null;
  hasAllowRules: boolean;
  /** Names checkAllowed lets in. */
  allowedByPlugin: string[];
}

export const FAKE_IDP = 'https://idp.invalid/authorize';

export function fakeRedirectAuthenticator(kind = 'fake-redirect'): { plugin: AuthenticatorPlugin; control: FakeRedirectControl } {
  const control: FakeRedirectControl = {
    people: {}, refresh: {}, refreshCalls: [], refreshStates: [], callbackUrls: [], lastInput: null,
    logoutUrl: null, validateError: null, hasAllowRules: false, allowedByPlugin: [],
  };
  const plugin: AuthenticatorPlugin = {
    kind,
    configSchema: { type: 'object', properties: {} },
    create: () => ({
      loginKind: 'redirect',
      loginLabel: 'Sign in with Fake IdP',
      get hasAllowRules() {
        return control.hasAllowRules;
      },
      async loginRedirect({ callbackUrl }) {
        control.callbackUrls.push(callbackUrl);
        const state = randomBytes(12).toString('hex');
        return { url: `${FAKE_IDP}?state=${state}&redirect_uri=${encodeURIComponent(callbackUrl)}`, pending: { state } };
      },
      async authenticate(input) {
        control.lastInput = { pending: input.pending, callbackUrl: input.callbackUrl, currentUrl: input.currentUrl };
        if (!input.pending) throw new HubError(400, 'The sign-in took too long or started in another browser. Start again.');
        if (input.fields.state !== input.pending.state) throw new HubError(400, 'OAuth state mismatch: start the sign-in again.');
        const person = control.people[input.fields.code ?? ''];
        return person ? structuredClone(person) : null;
      },
      async checkAllowed(name) {
        return control.allowedByPlugin.includes(name);
      },
      async refreshUser({ name, authState }) {
        control.refreshCalls.push(name);
        control.refreshStates.push(authState);
        const answer = control.refresh[name] ?? true;
        if (answer instanceof Error) throw answer;
        return answer;
      },
      logoutRedirect: ({ hubLoginUrl }) => (control.logoutUrl ? `${control.logoutUrl}?service=${encodeURIComponent(hubLoginUrl)}` : null),
      async validateConfig() {
        if (control.validateError) throw new HubError(500, control.validateError);
      },
    }),
  };
  return { plugin, control };
}

/**
 * Plays browser and provider for the fake redirect authenticator: GET /hub/oauth_login, then the
 * hub's callback with the provider's state and `code` (the user the fake logs in).
 */
export async function redirectLogin(client: BrowserClient, code: string): Promise<Page> {
  const authorize = await client.request('/hub/oauth_login');
  const idp = new URL(authorize.headers.get('location')!);
  const callback = new URL(idp.searchParams.get('redirect_uri')!);
  callback.searchParams.set('state', idp.searchParams.get('state')!);
  callback.searchParams.set('code', code);
  return client.request(callback.href);
}
