import { createHash } from 'node:crypto';
import { escapeUsername, formatTemplate } from '@tshub/plugin-api';

/** Kubernetes object names used as DNS labels (pods with hostnames, services) may not exceed this. */
export const DNS_LABEL_MAX = 63;

const hash8 = (s: string) => createHash('sha256').update(s, 'utf8').digest('hex').slice(0, 8);

/**
 * KubeSpawner's `safe` slug scheme: a name that already is a clean DNS label fragment (lowercase letters,
 * digits, single dashes, starting with a letter, at most 32 characters) is used as it is, so `alice` stays
 * `alice`. Anything else keeps its readable characters and gets `---` plus a hash of the original name;
 * clean names never contain `--`, so two different names can never meet on the same slug.
 */
export function safeSlug(name: string): string {
  if (/^[a-z]([a-z0-9]|-(?!-))*$/.test(name) && !name.endsWith('-') && name.length <= 32) return name;
  let readable = name.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 32).replace(/-+$/, '');
  if (readable && !/^[a-z]/.test(readable)) readable = `x-${readable}`;
  return `${readable || 'x'}---${hash8(name)}`;
}

/**
 * Makes any string a valid DNS-1123 label (pod, PVC and service names): lowercase alphanumerics and
 * dashes, starting and ending with an alphanumeric, at most 63 characters. Valid input is returned as is;
 * otherwise the result is cut to fit and a hash of the input is appended, so it stays unique.
 */
export function dnsLabel(value: string): string {
  if (value.length <= DNS_LABEL_MAX && /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/.test(value)) return value;
  const cleaned = value.toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^-+/, '');
  const head = cleaned.slice(0, DNS_LABEL_MAX - 9).replace(/-+$/, '');
  return `${head || 'x'}-${hash8(value)}`;
}

/**
 * A valid label value (at most 63 characters of `[A-Za-z0-9._-]`, alphanumeric at both ends, or empty).
 * Label values carry the safe slug; the raw user name goes into an annotation, which has no such rules.
 */
export function labelValue(value: string): string {
  if (value.length <= DNS_LABEL_MAX && /^([A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?)?$/.test(value)) return value;
  return dnsLabel(value);
}

/** The placeholders every KubeSpawner template may use. */
export interface TemplateNames {
  /** The user's safe slug (`alice`, or `user-example-com---1a2b3c4d`). */
  readonly username: string;
  /** The server's safe slug, '' for the default server. */
  readonly servername: string;
  /** `username`, or `username--servername` for a named server. */
  readonly user_server: string;
  readonly unescaped_username: string;
  readonly unescaped_servername: string;
  /** dockerspawner-style escapes (`-40` for `@`), for templates written for the older scheme. */
  readonly escaped_username: string;
  readonly escaped_servername: string;
  /** The namespace of this server's objects (the user's own with enable_user_namespaces). */
  readonly namespace: string;
  /** The hub's namespace (the `namespace` option), whatever namespace the user's objects are in. */
  readonly hubnamespace: string;
}

/** The template values for one user server. */
export function templateNames(user: string, server: string, namespace: string, hubNamespace = namespace): TemplateNames {
  const username = safeSlug(user);
  const servername = server === '' ? '' : safeSlug(server);
  return {
    username,
    servername,
    user_server: servername ? `${username}--${servername}` : username,
    unescaped_username: user,
    unescaped_servername: server,
    escaped_username: escapeUsername(user),
    escaped_servername: escapeUsername(server),
    namespace,
    hubnamespace: hubNamespace,
  };
}

/** Expands placeholders in every string inside a JSON-like value (volumes, mounts, hooks, containers). */
export function expandDeep<T>(value: T, names: Readonly<Record<string, string>>): T {
  if (typeof value === 'string') return formatTemplate(value, names) as T;
  if (Array.isArray(value)) return value.map((v: unknown) => expandDeep(v, names)) as T;
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, expandDeep(v, names)])) as T;
  }
  return value;
}

/**
 * Expands a name template and makes the result a valid object name. Trailing dashes are dropped first,
 * as KubeSpawner does, so `jupyter-{username}--{servername}` gives `jupyter-alice` for a default server.
 */
export function objectName(template: string, names: TemplateNames): string {
  return dnsLabel(formatTemplate(template, { ...names }).replace(/-+$/, ''));
}
