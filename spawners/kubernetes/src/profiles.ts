import { HubError, type JsonObject, type SpawnUser } from '@tshub/plugin-api';
import type { ProfileConfig } from './config.js';

/** A profile with its slug worked out. */
export interface Profile extends ProfileConfig {
  readonly slug: string;
}

/** KubeSpawner's slug for a profile without one: the display name, lowercased, runs of other characters as '-'. */
export function profileSlug(p: ProfileConfig): string {
  return p.slug ?? (p.display_name.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '') || 'profile');
}

export function normalizeProfiles(list: readonly ProfileConfig[]): Profile[] {
  const seen = new Set<string>();
  return list.map((p, i) => {
    const slug = profileSlug(p);
    if (seen.has(slug)) throw new HubError(500, `spawner.profile_list[${i}]: slug '${slug}' is used by two profiles; give one a distinct slug`);
    seen.add(slug);
    return { ...p, slug };
  });
}

/** Whether `user` may see and choose `p`: no allowed_groups means everyone. */
export function mayUse(p: ProfileConfig, user: Pick<SpawnUser, 'groups'>): boolean {
  return !p.allowed_groups || p.allowed_groups.some((g) => user.groups.includes(g));
}

export function visibleProfiles(profiles: readonly Profile[], user: Pick<SpawnUser, 'groups'>): Profile[] {
  return profiles.filter((p) => mayUse(p, user));
}

/** The profile used when the user picked none: the visible one marked default, else the first visible. */
export function defaultProfile(profiles: readonly Profile[], user: Pick<SpawnUser, 'groups'>): Profile | undefined {
  const visible = visibleProfiles(profiles, user);
  return visible.find((p) => p.default) ?? visible[0];
}

const escapeHtml = (s: string) =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');

/**
 * The spawn form's fields: one radio button per profile the user may use (KubeSpawner's form), or null
 * when there is nothing to choose (no profiles, or just one), so the spawn starts at once.
 */
export function profileForm(profiles: readonly Profile[], user: Pick<SpawnUser, 'groups'>): string | null {
  const visible = visibleProfiles(profiles, user);
  if (visible.length <= 1) return null;
  const chosen = defaultProfile(profiles, user)?.slug;
  const items = visible.map((p) => {
    const id = `profile-item-${escapeHtml(p.slug)}`;
    const checked = p.slug === chosen ? ' checked' : '';
    const description = p.description ? `<p class="profile-description">${escapeHtml(p.description)}</p>` : '';
    return (
      `<div class="profile">` +
      `<input type="radio" name="profile" id="${id}" value="${escapeHtml(p.slug)}"${checked}>` +
      `<label for="${id}"><strong>${escapeHtml(p.display_name)}</strong></label>${description}</div>`
    );
  });
  return `<fieldset class="profiles"><legend>Server options</legend>${items.join('')}</fieldset>`;
}

/**
 * Validates user_options from the form (`profile` may arrive as a one-element list) or the API body and
 * returns them with `profile` set to the chosen slug. Other keys pass through unchanged.
 */
export function checkProfileOption(profiles: readonly Profile[], options: JsonObject, user: Pick<SpawnUser, 'groups'>): JsonObject {
  if (profiles.length === 0) return options;
  let raw = options.profile;
  if (Array.isArray(raw) && raw.length === 1) raw = raw[0];
  if (raw === undefined || raw === null || raw === '') {
    const d = defaultProfile(profiles, user);
    if (!d) throw new HubError(403, 'No server profile is available to you. Ask an instructor to add you to the right group.');
    return { ...options, profile: d.slug };
  }
  if (typeof raw !== 'string') throw new HubError(400, 'user_options.profile must be the slug of a profile (a string).');
  const p = profiles.find((x) => x.slug === raw);
  const allowed = visibleProfiles(profiles, user).map((x) => x.slug);
  if (!p) throw new HubError(400, `Unknown profile '${raw}'. Choose one of: ${allowed.join(', ') || '(none)'}.`);
  if (!mayUse(p, user)) throw new HubError(403, `The profile '${raw}' is not available to you.`);
  return { ...options, profile: p.slug };
}

/** The profile a spawn uses (checked again at start: the hub may have restarted with new groups or config). */
export function chosenProfile(profiles: readonly Profile[], options: JsonObject, user: Pick<SpawnUser, 'groups'>): Profile | undefined {
  if (profiles.length === 0) return undefined;
  const slug = checkProfileOption(profiles, options, user).profile;
  return profiles.find((p) => p.slug === slug);
}
