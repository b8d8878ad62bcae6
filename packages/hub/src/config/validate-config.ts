import { Ajv, type ErrorObject } from 'ajv';
import type { Registry } from '../registry.js';
import { composeSchema, type TshubConfig } from './schema.js';
import { parseSubdomainHost } from '../subdomain-host.js';

export type ConfigResult = { ok: true; config: TshubConfig } | { ok: false; errors: string[] };

/**
 * Validates a raw config object in one pass and fills defaults. Reports every problem with its path
 * (`spawner.start_timout: unknown option; did you mean 'start_timeout'?`), never just the first.
 */
export function validateConfig(raw: unknown, registry: Registry): ConfigResult {
  if (raw === null || raw === undefined) raw = {};
  if (typeof raw !== 'object' || Array.isArray(raw)) return { ok: false, errors: ['(top level): the config must be a mapping of sections (hub, authenticator, spawner, proxy)'] };
  const errors: string[] = [];
  // Functions (authenticator.post_auth_hook, spawner.modify_pod_hook from a .js/.ts config) cannot be
  // cloned or checked by JSON Schema: set aside, put back.
  const top = { ...(raw as Record<string, unknown>) };
  const hook = takeFunction(top, 'authenticator', 'post_auth_hook', errors);
  const podHook = takeFunction(top, 'spawner', 'modify_pod_hook', errors);
  const input = structuredClone(top) as Record<string, Record<string, unknown> | undefined>;

  const pick = <P>(section: 'authenticator' | 'spawner', plugins: ReadonlyMap<string, P>, fallback: string): P | undefined => {
    const sec = input[section];
    const kind = sec && typeof sec === 'object' && 'kind' in sec ? sec.kind : fallback;
    if (typeof kind !== 'string' || !plugins.has(kind)) {
      errors.push(`${section}.kind: unknown ${section} kind ${JSON.stringify(kind)}; known kinds: ${[...plugins.keys()].join(', ')}`);
      return undefined;
    }
    return plugins.get(kind);
  };
  const auth = pick('authenticator', registry.authenticators, 'local');
  const spawner = pick('spawner', registry.spawners, 'simple');
  const props = (p: { configSchema: Record<string, unknown> } | undefined) => (p?.configSchema.properties ?? {}) as Record<string, unknown>;

  const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: false, verbose: true });
  const validate = ajv.compile(composeSchema(props(auth), props(spawner)));
  if (podHook && spawner && !('modify_pod_hook' in props(spawner))) {
    errors.push(`spawner.modify_pod_hook: unknown option for spawner kind ${JSON.stringify(input.spawner?.kind ?? 'simple')} (only kubernetes has it)`);
  }
  if (!validate(input)) {
    const all = validate.errors ?? [];
    // A failed union also reports every branch ("must be string", "must be number", ...): keep the union's own error.
    const unions = all.filter((e) => e.keyword === 'anyOf').map((e) => e.schemaPath + '/');
    for (const e of all) if (!unions.some((u) => e.schemaPath.startsWith(u))) errors.push(formatError(e, input));
  }
  const pattern = input.authenticator?.username_pattern;
  if (typeof pattern === 'string' && pattern) {
    try {
      new RegExp(pattern);
    } catch (err) {
      errors.push(`authenticator.username_pattern: not a valid regular expression (${(err as Error).message})`);
    }
  }
  // The value becomes the proxy's hub route target and servers' JUPYTERHUB_API_URL: a scheme-less
  // 'hub:8081' would otherwise start a hub that nobody can reach.
  const connect = input.hub?.hub_connect_url;
  if (typeof connect === 'string' && connect && !isHttpUrl(connect)) {
    errors.push(`hub.hub_connect_url: not an http(s) URL such as http://hub:8081 (got ${JSON.stringify(connect)})`);
  }
  const subdomainHost = input.hub?.subdomain_host;
  if (typeof subdomainHost === 'string') {
    try {
      parseSubdomainHost(subdomainHost);
    } catch (err) {
      errors.push((err as Error).message);
    }
  }
  if (errors.length > 0) return { ok: false, errors: [...new Set(errors)] };
  if (hook) input.authenticator!.post_auth_hook = hook;
  if (podHook) input.spawner!.modify_pod_hook = podHook;
  return { ok: true, config: input as unknown as TshubConfig };
}

/**
 * Replaces `raw[section]` by a copy without `key` when that is a function, and returns it;
 * anything else but null/undefined there is an error (YAML and JSON configs cannot hold a function).
 */
function takeFunction(raw: Record<string, unknown>, section: string, key: string, errors: string[]): ((...args: never[]) => unknown) | undefined {
  const sec = raw[section];
  if (!sec || typeof sec !== 'object' || !(key in sec)) return undefined;
  const value = (sec as Record<string, unknown>)[key];
  if (value === null || value === undefined) return undefined;
  const { [key]: _taken, ...rest } = sec as Record<string, unknown>;
  raw[section] = rest;
  if (typeof value === 'function') return value as (...args: never[]) => unknown;
  errors.push(`${section}.${key}: must be a function (define it in a .js or .ts config file)`);
  return undefined;
}

function formatError(e: ErrorObject, input: unknown): string {
  const parts = e.instancePath.split('/').filter(Boolean).map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
  if (e.keyword === 'additionalProperties') {
    const key = String((e.params as { additionalProperty: string }).additionalProperty);
    const known = Object.keys((e.parentSchema as { properties?: object } | undefined)?.properties ?? {});
    const near = closest(key, known);
    const where = [...parts, key].join('.');
    return `${where}: unknown option${near ? `; did you mean '${near}'?` : parts.length === 0 ? ` (sections are: ${known.join(', ')})` : ''}`;
  }
  const where = parts.length ? parts.join('.') : '(top level)';
  const got = valueAt(input, parts);
  const shown = got === undefined ? '' : ` (got ${truncate(JSON.stringify(got))})`;
  if (e.keyword === 'anyOf') {
    const alt = (s: { const?: unknown; type?: string; pattern?: string }) =>
      s.const !== undefined ? JSON.stringify(s.const) : s.pattern ? `a string matching ${s.pattern}` : s.type ? ({ null: 'null', array: 'an array', object: 'an object', integer: 'an integer' } as Record<string, string>)[s.type] ?? `a ${s.type}` : 'another value';
    return `${where}: must be ${((e.schema ?? []) as Array<Parameters<typeof alt>[0]>).map(alt).join(' or ')}${shown}`;
  }
  return `${where}: ${e.message ?? 'is invalid'}${shown}`;
}

function valueAt(obj: unknown, parts: string[]): unknown {
  let cur = obj;
  for (const p of parts) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[p];
  }
  return cur;
}

const truncate = (s: string | undefined) => (s && s.length > 60 ? s.slice(0, 57) + '...' : s);

/** The known key closest to `key` by edit distance, if close enough to be a likely typo. */
function closest(key: string, known: string[]): string | undefined {
  let best: string | undefined;
  let bestD = Math.max(2, Math.floor(key.length / 3)) + 1;
  for (const k of known) {
    const d = editDistance(key, k);
    if (d < bestD) [best, bestD] = [k, d];
  }
  return best;
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return row[b.length]!;
}

function isHttpUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.hostname !== '';
  } catch {
    return false;
  }
}
