import type { JsonObject, JsonValue } from '@tshub/plugin-api';

/**
 * The value at `key` in `claims`: the key itself when present (claims such as
 * `https://example.edu/groups` contain dots), else a dotted path into nested objects
 * (`realm_access.roles`), as OAuthenticator reads `username_claim` and `claim_groups_key`.
 */
export function claimAt(claims: JsonObject, key: string): JsonValue | undefined {
  if (key in claims) return claims[key];
  let cur: JsonValue | undefined = claims;
  for (const part of key.split('.')) {
    if (cur === null || typeof cur !== 'object' || Array.isArray(cur)) return undefined;
    cur = cur[part];
  }
  return cur;
}

/** The username claim as a string (numbers are accepted: some providers send numeric ids), or null. */
export function usernameFrom(claims: JsonObject, key: string): string | null {
  const v = claimAt(claims, key);
  if (typeof v === 'string' && v.trim() !== '') return v.trim();
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  return null;
}

/**
 * Group names from the groups claim: a list of strings, or one string (some providers send a single
 * group unwrapped). Keycloak full-path groups (`/class/2024`) lose their leading slash. undefined when
 * the claim is absent, so "no groups claim" is distinguishable from "in no group".
 */
export function groupsFrom(claims: JsonObject, key: string): string[] | undefined {
  const v = claimAt(claims, key);
  if (v === undefined || v === null) return undefined;
  const list = Array.isArray(v) ? v : [v];
  const names = list.filter((g): g is string => typeof g === 'string').map((g) => g.replace(/^\//, '').trim());
  return [...new Set(names.filter((g) => g !== ''))];
}

/** Whether any of `groups` is listed in `wanted`. */
export function inAnyGroup(groups: readonly string[] | undefined, wanted: readonly string[]): boolean {
  if (!groups || wanted.length === 0) return false;
  const set = new Set(wanted);
  return groups.some((g) => set.has(g));
}
