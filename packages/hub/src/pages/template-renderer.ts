/**
 * Server-rendered HTML pages (nunjucks, Jinja2-like syntax, autoescape on).
 *
 * Lookup order, like JupyterHub's `template_paths`:
 *   1. `templates/<name>` always means the built-in template, so a deployment
 *      override can extend the original: `{% extends "templates/page.html" %}`.
 *   2. Each deployment directory in `templatePaths`, in order.
 *   3. The built-in directory (packages/hub/templates).
 */
import { fileURLToPath } from 'node:url';
import nunjucks from 'nunjucks';

/** Absolute path of the built-in templates (same from src/pages and dist/pages). */
export const BUILTIN_TEMPLATE_DIR = fileURLToPath(new URL('../../templates/', import.meta.url));

const BUILTIN_PREFIX = 'templates/';

export interface TemplateRendererOptions {
  /** Deployment template directories; searched before the built-in ones. */
  templatePaths?: string[];
  /** Extra variables for every page (JupyterHub's `template_vars`); per-call vars win. */
  vars?: Record<string, unknown>;
}

/** Defaults for the variables every page uses, so a missing one never yields `undefinedhome`. */
const COMMON_DEFAULTS: Readonly<Record<string, unknown>> = {
  base_url: '/',
  hub_prefix: '/hub/',
  user: null,
  xsrf: '',
  announcement: null,
};

/** encodeURIComponent for strings; also safe for null/undefined/numbers; objects → query string. */
function urlencode(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'object') {
    const entries = Array.isArray(value) ? (value as [unknown, unknown][]) : Object.entries(value);
    return entries.map(([k, v]) => `${urlencode(k)}=${urlencode(v)}`).join('&');
  }
  return encodeURIComponent(String(value));
}

export class TemplateRenderer {
  readonly env: nunjucks.Environment;
  readonly vars: Record<string, unknown>;

  constructor(opts: TemplateRendererOptions = {}) {
    const builtin = new nunjucks.FileSystemLoader(BUILTIN_TEMPLATE_DIR, { noCache: false });
    // `templates/x.html` → built-in x.html (JupyterHub's PrefixLoader).
    const prefixed: nunjucks.ILoader = {
      getSource(name: string) {
        if (!name.startsWith(BUILTIN_PREFIX)) return null as unknown as nunjucks.LoaderSource;
        return builtin.getSource(name.slice(BUILTIN_PREFIX.length));
      },
    };
    const main = new nunjucks.FileSystemLoader([...(opts.templatePaths ?? []), BUILTIN_TEMPLATE_DIR], {
      noCache: false,
    });
    this.env = new nunjucks.Environment([prefixed, main], {
      autoescape: true,
      throwOnUndefined: false,
    });
    this.env.addFilter('urlencode', urlencode);
    // Explicit alias for path segments; identical to urlencode for strings.
    this.env.addFilter('urlescape', urlencode);
    this.vars = { ...(opts.vars ?? {}) };
  }

  /**
   * Render a template. Per-call `vars` override the constructor's `vars`, which override
   * the common defaults; a per-call value of `undefined` does not hide a lower layer.
   */
  render(name: string, vars: Record<string, unknown> = {}): string {
    const context: Record<string, unknown> = { ...COMMON_DEFAULTS, ...this.vars };
    for (const [key, value] of Object.entries(vars)) if (value !== undefined) context[key] = value;
    return this.env.render(name, context);
  }
}
