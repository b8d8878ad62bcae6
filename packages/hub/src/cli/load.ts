import { HubError } from '@tshub/plugin-api';
import { findConfigFile, readConfigFile } from '../config/load-config.js';
import { validateConfig } from '../config/validate-config.js';
import type { TshubConfig } from '../config/schema.js';
import { defaultRegistry } from '../registry.js';

/** Loads and validates the config for a CLI command; prints every problem and exits 2 on failure. */
export async function loadConfigOrExit(file: string | undefined): Promise<{ config: TshubConfig; file: string | undefined }> {
  const path = file ?? findConfigFile(process.cwd());
  let raw: unknown = {};
  try {
    if (path) raw = await readConfigFile(path);
  } catch (err) {
    process.stderr.write(`tshub: ${(err as Error).message}\n`);
    process.exit(2);
  }
  const result = validateConfig(raw, defaultRegistry());
  if (!result.ok) {
    process.stderr.write(`tshub: ${path ?? 'configuration'} has ${result.errors.length} problem${result.errors.length === 1 ? '' : 's'}:\n`);
    for (const e of result.errors) process.stderr.write(`  - ${e}\n`);
    process.exit(2);
  }
  return { config: result.config, file: path };
}

/** Prints a failure a person can act on (no stack for HubErrors) and exits 1. */
export function fail(err: unknown): never {
  const msg = err instanceof HubError ? err.message : err instanceof Error ? err.stack ?? err.message : String(err);
  process.stderr.write(`tshub: ${msg}\n`);
  // Configuration refused at start-up (nobody could log in, a plugin's own check) exits 2, like a bad config file.
  const code = (err as { exitCode?: unknown } | null)?.exitCode;
  process.exit(typeof code === 'number' ? code : 1);
}
