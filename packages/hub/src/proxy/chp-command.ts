import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

// Flags in NODE_OPTIONS that preload code into every node process: the hub's own loaders
// (tsx, test instrumentation, APM agents) are for the hub and can break configurable-http-proxy.
const PRELOAD_FLAG = /^(--import|--require|-r|--loader|--experimental-loader)(=|$)/;
const ENV_BINARY = '/usr/bin/env';

function splitNodeOptions(value: string): string[] {
  const tokens: string[] = [];
  let current = '';
  let quoted = false;
  let started = false;
  for (let i = 0; i < value.length; i++) {
    const c = value[i] as string;
    if (c === '\\' && quoted && i + 1 < value.length) {
      current += value[++i];
    } else if (c === '"') {
      quoted = !quoted;
      started = true;
    } else if (/\s/.test(c) && !quoted) {
      if (started) tokens.push(current);
      current = '';
      started = false;
    } else {
      current += c;
      started = true;
    }
  }
  if (started) tokens.push(current);
  return tokens;
}

/** NODE_OPTIONS without module-preloading flags (`--import`, `--require`/`-r`, `--loader`). */
export function withoutPreloads(nodeOptions: string): string {
  const kept: string[] = [];
  const tokens = splitNodeOptions(nodeOptions);
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i] as string;
    const preload = PRELOAD_FLAG.exec(token);
    if (preload) {
      if (preload[2] !== '=') i++; // the flag's value is the next token
      continue;
    }
    kept.push(/[\s"\\]/.test(token) ? `"${token.replace(/["\\]/g, '\\$&')}"` : token);
  }
  return kept.join(' ');
}

/** Path of the installed configurable-http-proxy's executable script. */
export function chpBinPath(): string {
  const pkg = createRequire(import.meta.url).resolve('configurable-http-proxy/package.json');
  return join(dirname(pkg), 'bin', 'configurable-http-proxy');
}

/**
 * The default command that runs the installed configurable-http-proxy with this node binary.
 * It goes through `env -u NODE_OPTIONS` so that preloads in the hub's NODE_OPTIONS (including ones
 * that instrumentation such as tap's injects into every spawned process) do not reach the proxy;
 * the hub's other NODE_OPTIONS are kept. Without /usr/bin/env, node is run directly.
 */
export function defaultChpCommand(nodeOptions = process.env['NODE_OPTIONS'] ?? ''): string[] {
  const node = [process.execPath, chpBinPath()];
  if (!existsSync(ENV_BINARY)) return node;
  const kept = withoutPreloads(nodeOptions);
  return [ENV_BINARY, '-u', 'NODE_OPTIONS', ...(kept ? [`NODE_OPTIONS=${kept}`] : []), ...node];
}
