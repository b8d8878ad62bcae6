/**
 * Path templates with user-controlled placeholders. A user name is data, not a path: it must never
 * walk out of the directory the administrator configured.
 */
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { escapeUsername, formatTemplate, SpawnError } from '@tshub/plugin-api';

/** Values for {username}, {escaped_username} and {servername}. */
export function pathTemplateValues(userName: string, serverName: string): Record<string, string> {
  return { username: userName, escaped_username: escapeUsername(userName), servername: serverName };
}

/** A value that would be more than one path component, or none. */
function unsafeComponent(value: string): boolean {
  return value === '.' || value === '..' || value.includes('/') || value.includes('\0');
}

/**
 * Expands `template` and resolves it against `base`. Throws a SpawnError (reason `unsafe-path`) if a
 * placeholder it uses holds a value that is not a single path component, and if the result leaves the
 * template's fixed prefix (the directory part before the first placeholder).
 */
export function expandPathTemplate(template: string, values: Readonly<Record<string, string>>, base: string): string {
  for (const [key, value] of Object.entries(values)) {
    if (template.includes(`{${key}}`) && value !== '' && unsafeComponent(value)) {
      throw new SpawnError('unsafe-path', `Spawn failed: the name '${value}' cannot be used in a file path ({${key}} in '${template}').`);
    }
  }
  const expanded = path.resolve(base, formatTemplate(template, values));
  const brace = template.indexOf('{');
  if (brace < 0) return expanded;
  // The directory part before the first placeholder: 'homes/{x}' -> 'homes/', '/data/u-{x}' -> '/data/', '{x}' -> base.
  const fixed = template.slice(0, brace);
  const root = path.resolve(base, fixed.slice(0, fixed.lastIndexOf('/') + 1) || '.');
  if (!expanded.startsWith(root.endsWith(path.sep) ? root : root + path.sep)) {
    throw new SpawnError('unsafe-path', `Spawn failed: '${template}' expands to '${expanded}', outside '${root}'.`);
  }
  return expanded;
}

/**
 * The simple kind's home directory for a user: `home_dir_template` expanded against the hub's working
 * directory and created with mode 0700 (an existing directory is left as it is).
 */
export async function ensureSimpleHome(template: string, userName: string, serverName: string, base = process.cwd()): Promise<string> {
  const home = expandPathTemplate(template, pathTemplateValues(userName, serverName), base);
  await mkdir(home, { recursive: true, mode: 0o700 });
  return home;
}

/**
 * The server's working directory: `notebook_dir` when set (`~` and relative paths mean the home
 * directory, placeholders as in {@link expandPathTemplate}), else the home directory itself.
 */
export function notebookDir(notebookDirTemplate: string, home: string, userName: string, serverName: string): string {
  if (notebookDirTemplate === '') return home;
  let template = notebookDirTemplate;
  if (template === '~' || template.startsWith('~/')) template = home + template.slice(1);
  return expandPathTemplate(template, pathTemplateValues(userName, serverName), home);
}
