import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parse as parseYaml } from 'yaml';

const CANDIDATES = ['tshub.config.yaml', 'tshub.config.yml', 'tshub.config.json', 'tshub.config.js', 'tshub.config.mjs', 'tshub.config.ts'];

/** The config file in `dir` by its default names, or undefined when there is none (defaults apply). */
export function findConfigFile(dir: string): string | undefined {
  for (const name of CANDIDATES) {
    const p = path.join(dir, name);
    if (existsSync(p)) return p;
  }
  return undefined;
}

/**
 * Reads a config file: YAML, JSON, or a JS/TS module whose default export is the config object (TS is
 * loaded through tsx, so a `.ts` config needs no build step). Throws an Error naming the file and the
 * parse problem.
 */
export async function readConfigFile(file: string): Promise<unknown> {
  const ext = path.extname(file).toLowerCase();
  if (ext === '.yaml' || ext === '.yml' || ext === '.json') {
    const text = readFileSync(file, 'utf8');
    try {
      return ext === '.json' ? JSON.parse(text) : parseYaml(text) ?? {};
    } catch (err) {
      throw new Error(`${file}: cannot parse: ${(err as Error).message}`);
    }
  }
  if (ext === '.js' || ext === '.mjs' || ext === '.ts' || ext === '.mts') {
    const url = pathToFileURL(path.resolve(file)).href;
    const mod = ext === '.ts' || ext === '.mts' ? await (await import('tsx/esm/api')).tsImport(url, import.meta.url) : await import(url);
    let value = (mod as { default?: unknown }).default ?? mod;
    // A .ts file outside a "type": "module" package is compiled to CommonJS by tsx: the default export sits one level deeper.
    if (value && typeof value === 'object' && (value as { __esModule?: unknown }).__esModule && 'default' in value) value = (value as { default: unknown }).default;
    return value;
  }
  throw new Error(`${file}: unsupported config file type '${ext}' (use .yaml, .yml, .json, .js or .ts)`);
}
