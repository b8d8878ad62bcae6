import { HubError } from '@tshub/plugin-api';

export type Form = Record<string, unknown>;

/** The posted form as an object; a JSON array or scalar body counts as an empty form. */
export function formOf(body: unknown): Form {
  return body !== null && typeof body === 'object' && !Array.isArray(body) ? (body as Form) : {};
}

/**
 * A text field of a posted form: '' when missing. A repeated field arrives as an array and a JSON body
 * can carry any type: both are refused with a 400 rather than guessed at.
 */
export function field(form: Form, key: string): string {
  const value = form[key];
  if (value === undefined || value === null) return '';
  if (typeof value !== 'string') throw new HubError(400, `The form field "${key}" must be sent once, as text.`);
  return value;
}
