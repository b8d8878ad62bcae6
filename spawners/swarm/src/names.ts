import { formatTemplate } from '@tshub/plugin-api';
import { templateFields } from '@tshub/spawner-docker';

/**
 * The placeholders name_template and volumes may use: the docker kind's own (so a deployment moving
 * between the two keeps its templates): {username}, {escaped_username}, {servername},
 * {escaped_servername}, {servername_suffix}, {prefix}, {imagename}.
 */
export function templateValues(prefix: string, user: string, server: string, image = ''): Record<string, string> {
  return templateFields(user, server, prefix, image);
}

const SERVICE_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$/;

/**
 * The service name for a user server. Docker refuses names longer than 63 characters or with other
 * characters, and a refused create would only say "invalid name": say which template produced it.
 */
export function serviceName(template: string, values: Record<string, string>): string {
  const name = formatTemplate(template, values);
  if (!SERVICE_NAME.test(name)) {
    throw new Error(`spawner.name_template gives '${name}', which is not a valid service name (letters, digits, _ . -, at most 63 characters)`);
  }
  return name;
}
