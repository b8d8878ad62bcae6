import type { CasAttributes } from './service-response.js';

/** Attribute name -> accepted values, as configured (`{affiliation: [student]}`). */
export type AttributeRule = Readonly<Record<string, readonly string[]>>;

/**
 * Whether the attributes satisfy every attribute of `rule`, each with at least one of its listed values
 * (attributes AND-ed, values OR-ed). With one value per attribute this is exactly jupyterhub-cas's
 * `cas_required_attribs` (every (name, value) pair present). An empty rule is always met.
 */
export function meetsAll(attributes: CasAttributes, rule: AttributeRule): boolean {
  return Object.entries(rule).every(([name, accepted]) => hasAnyValue(attributes, name, accepted));
}

/** Whether some attribute of `rule` carries one of its listed values (admin_attributes: any match makes an admin). */
export function meetsAny(attributes: CasAttributes, rule: AttributeRule): boolean {
  return Object.entries(rule).some(([name, accepted]) => hasAnyValue(attributes, name, accepted));
}

function hasAnyValue(attributes: CasAttributes, name: string, accepted: readonly string[]): boolean {
  const values = attributes[name] ?? [];
  return values.some((v) => accepted.includes(v));
}

/** What is missing, for the log: `affiliation (has: staff; needs one of: student)`. */
export function describeUnmet(attributes: CasAttributes, rule: AttributeRule): string {
  return Object.entries(rule)
    .filter(([name, accepted]) => !hasAnyValue(attributes, name, accepted))
    .map(([name, accepted]) => `${name} (has: ${(attributes[name] ?? []).join(', ') || 'nothing'}; needs one of: ${accepted.join(', ')})`)
    .join('; ');
}

/** The distinct non-empty values of `attribute`, in the order released, as hub group names. */
export function groupsFrom(attributes: CasAttributes, attribute: string): string[] {
  return [...new Set((attributes[attribute] ?? []).map((v) => v.trim()).filter((v) => v !== ''))];
}
