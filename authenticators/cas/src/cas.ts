import { randomBytes, timingSafeEqual } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { HubError } from '@tshub/plugin-api';
import type { AuthContext, Authenticator, AuthenticatorPlugin, AuthModel, JsonObject, LoginInput } from '@tshub/plugin-api';
import { describeUnmet, groupsFrom, meetsAll, meetsAny } from './attribute-rules.js';
import { casConfigSchema, resolveSettings, withQuery, type CasConfig, type CasSettings } from './config.js';
import { fetchValidation } from './fetch-validation.js';
import { parseServiceResponse, type CasAttributes, type ServiceResponse } from './service-response.js';
import { refusal } from './refusals.js';

/** CAS tickets are at most 256 characters of printable ASCII (CAS protocol 3.0, section 3.7). */
const TICKET_SYNTAX = /^[\x21-\x7e]{1,256}$/;

class CasAuthenticator implements Authenticator {
  readonly loginKind = 'redirect' as const;
  readonly loginLabel: string;
  readonly hasAllowRules: boolean;
  readonly #requires: boolean;
  readonly #ctx: AuthContext<CasConfig>;
  // Bad options are reported by validateConfig (the hub refuses to start), so creating never throws.
  readonly #settings: CasSettings | HubError;
  #ca: Promise<Buffer | undefined> | undefined;

  constructor(ctx: AuthContext<CasConfig>) {
    this.#ctx = ctx;
    this.#settings = settingsOrError(ctx.config);
    this.loginLabel = `Sign in with ${ctx.config.login_service ?? 'CAS'}`;
    // Admins from admin_attributes are let in too (as admin_users are), so either rule can admit someone.
    this.#requires = Object.keys(ctx.config.required_attributes ?? {}).length > 0;
    this.hasAllowRules = this.#requires || Object.keys(ctx.config.admin_attributes ?? {}).length > 0;
  }

  #get(): CasSettings {
    if (this.#settings instanceof HubError) throw this.#settings;
    return this.#settings;
  }

  async validateConfig(): Promise<void> {
    const s = this.#get();
    if (s.caBundle !== undefined) await this.#loadCa();
    // CAS returns the ticket to the service URL, and only the callback route reads tickets: any other
    // page (jupyterhub-cas used /hub/login) would send the browser back to CAS, round and round.
    const callbackPath = `${this.#ctx.urls.hubPrefix}oauth_callback`;
    if (s.serviceUrl !== undefined && new URL(s.serviceUrl).pathname !== callbackPath) {
      throw new HubError(500, `authenticator.cas_service_url: must be the hub's callback URL, ending in ${callbackPath} (got ${s.serviceUrl})`);
    }
    if (new URL(s.validateUrl).protocol === 'http:') {
      this.#ctx.log.warn({ url: s.validateUrl }, 'authenticator.cas_service_validate_url is plain http: tickets and attributes travel unencrypted');
    }
    const c = this.#ctx.config;
    const usesAttributes = this.hasAllowRules || c.groups_attribute !== undefined || c.username_attribute !== undefined;
    if (s.version === '2.0' && usesAttributes && c.cas_service_validate_url === undefined) {
      this.#ctx.log.warn('CAS 2.0 /serviceValidate often releases no attributes, which the attribute options need: use cas_version 3.0 if the server supports it');
    }
    if (this.#requires && c.allow_all === true) {
      this.#ctx.log.warn('authenticator.required_attributes has no effect while allow_all is true: everyone CAS accepts gets in');
    }
  }

  /** Reads the CA bundle once; a bundle that cannot be read or holds no certificate names the key. */
  #loadCa(): Promise<Buffer | undefined> {
    const path = this.#get().caBundle;
    this.#ca ??= (async () => {
      if (path === undefined) return undefined;
      let pem: Buffer;
      try {
        pem = await readFile(path);
      } catch (err) {
        throw new HubError(500, `authenticator.cas_ca_bundle: cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
      }
      if (!pem.includes('-----BEGIN CERTIFICATE-----')) throw new HubError(500, `authenticator.cas_ca_bundle: ${path} holds no PEM certificate`);
      return pem;
    })();
    return this.#ca;
  }

  async loginRedirect(ctx: { callbackUrl: string }): Promise<{ url: string; pending: JsonObject }> {
    const s = this.#get();
    // A random state in the service URL binds the ticket to this browser's login: CAS returns to the
    // service URL exactly and validates only against the same URL, so another person's ticket (login
    // CSRF) comes back without this browser's state. The service goes into the pending cookie so
    // validation names exactly the URL CAS issued the ticket for.
    const state = randomBytes(16).toString('base64url');
    const service = withQuery(s.serviceUrl ?? ctx.callbackUrl, { state });
    return { url: withQuery(s.loginUrl, { service }), pending: { service, state } };
  }

  async authenticate(input: LoginInput): Promise<AuthModel | null> {
    const s = this.#get();
    // Without the pending cookie this browser never started a login: accepting the ticket would let a
    // crafted link log someone into another person's account (login CSRF).
    if (input.pending === null) {
      throw new HubError(400, 'This login did not start in this browser, or took longer than ten minutes. Please log in again.');
    }
    const want = input.pending?.['state'];
    const got = input.fields['state'] ?? '';
    if (typeof want !== 'string' || got.length !== want.length || !timingSafeEqual(Buffer.from(got), Buffer.from(want))) {
      throw new HubError(400, 'This login did not start in this browser. Please log in again.');
    }
    const ticket = input.fields['ticket'] ?? '';
    if (ticket === '') throw new HubError(400, 'CAS sent you back to the hub without a login ticket. Please log in again.');
    if (!TICKET_SYNTAX.test(ticket)) throw new HubError(400, 'The CAS login ticket is malformed. Please log in again.');
    const pendingService = input.pending?.['service'];
    const service = typeof pendingService === 'string' ? pendingService : s.serviceUrl ?? input.callbackUrl;
    if (service === undefined) throw new HubError(400, 'The hub cannot tell which service this CAS ticket is for. Please log in again.');

    let response: ServiceResponse;
    try {
      const ca = await this.#loadCa();
      const body = await fetchValidation(withQuery(s.validateUrl, { service, ticket }), { ca, timeoutMs: s.timeoutMs });
      response = parseResponse(body, s.validateUrl);
    } catch (err) {
      if (err instanceof HubError) this.#ctx.log.warn({ status: err.status }, err.logMessage ?? err.message);
      throw err;
    }
    if (!response.ok) {
      const err = refusal(response.code, response.message, service);
      this.#ctx.log.info({ code: response.code }, err.logMessage ?? err.message);
      throw err;
    }
    return this.#model(response.user, response.attributes);
  }

  #model(user: string, attributes: CasAttributes): AuthModel {
    const s = this.#get();
    let name = user;
    if (s.usernameAttribute !== undefined) {
      const value = attributes[s.usernameAttribute]?.[0]?.trim();
      if (!value) {
        throw new HubError(
          403,
          `CAS did not release the '${s.usernameAttribute}' attribute, which this hub uses as the username. Ask the CAS administrators to release it to this service.`,
          { logMessage: `CAS user ${user}: attribute ${s.usernameAttribute} (authenticator.username_attribute) missing; released: ${Object.keys(attributes).join(', ') || 'none'}` },
        );
      }
      name = value;
    }
    const model: AuthModel = { name, authState: { cas_user: user, attributes } };
    if (s.adminAttributes !== undefined) model.admin = meetsAny(attributes, s.adminAttributes);
    if (s.groupsAttribute !== undefined) model.groups = groupsFrom(attributes, s.groupsAttribute);
    return model;
  }

  async checkAllowed(name: string, model: AuthModel): Promise<boolean> {
    const rule = this.#get().requiredAttributes;
    if (!this.#requires) return false;
    const attributes = readAttributes(model.authState);
    if (meetsAll(attributes, rule)) return true;
    this.#ctx.log.info({ user: name }, `refused by authenticator.required_attributes: ${describeUnmet(attributes, rule)}`);
    return false;
  }

  logoutRedirect(ctx: { hubLoginUrl: string }): string | null {
    if (this.#settings instanceof HubError || this.#settings.logoutUrl === undefined) return null;
    // CAS 3.0 names the return address `service`; 2.0-era servers read `url`.
    const params: Record<string, string> = { service: ctx.hubLoginUrl };
    if (this.#settings.version === '2.0') params['url'] = ctx.hubLoginUrl;
    return withQuery(this.#settings.logoutUrl, params);
  }
}

function settingsOrError(config: CasConfig): CasSettings | HubError {
  try {
    return resolveSettings(config);
  } catch (err) {
    if (err instanceof HubError) return err;
    throw err;
  }
}

function parseResponse(body: string, validateUrl: string): ServiceResponse {
  try {
    return parseServiceResponse(body);
  } catch (err) {
    throw new HubError(502, 'The CAS server sent an answer the hub could not read. Please try again later.', {
      logMessage: `CAS ticket validation at ${validateUrl}: ${(err as Error).message}; is authenticator.cas_service_validate_url the serviceValidate endpoint?`,
    });
  }
}

/** The attributes kept in auth_state by {@link CasAuthenticator.authenticate}, read back defensively. */
function readAttributes(authState: JsonObject | undefined): CasAttributes {
  const raw = authState?.['attributes'];
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return {};
  const out: CasAttributes = {};
  for (const [name, values] of Object.entries(raw)) {
    if (Array.isArray(values)) out[name] = values.filter((v): v is string => typeof v === 'string');
  }
  return out;
}

/** `kind: cas`: login through a CAS 2.0 / 3.0 server, with attributes for rules, admin and groups. */
export const casAuthenticator: AuthenticatorPlugin<CasConfig> = {
  kind: 'cas',
  configSchema: casConfigSchema,
  create: (ctx) => new CasAuthenticator(ctx),
};
