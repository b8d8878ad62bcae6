import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Test } from 'tap';

/** The compiled CLI (`npx tsc -b` first); tap runs with cwd = the repo root. */
export const CLI = path.resolve(process.cwd(), 'packages/hub/dist/main.js');

export interface CliResult {
  /** Exit code, or null when killed (timeout). */
  code: number | null;
  stdout: string;
  stderr: string;
  /** Wall-clock milliseconds until the process exited. */
  ms: number;
  timedOut: boolean;
}

/**
 * Runs `node main.js ...args` in `cwd` and collects its output. The child gets its own process group,
 * which is killed (by id) if it outlives `timeoutMs`, so a hub that unexpectedly starts cannot leak a proxy.
 */
export function runCli(cwd: string, args: string[], opts: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<CliResult> {
  const env = { ...process.env, ...opts.env };
  delete env.TSHUB_DB_URL; // the CLI falls back to it when hub.db_url is empty; tests set their own
  const started = Date.now();
  const child = spawn(process.execPath, [CLI, ...args], { cwd, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
  child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }, opts.timeoutMs ?? 30_000);
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, ms: Date.now() - started, timedOut });
    });
  });
}

/** A fresh temp directory removed when `t` ends, optionally holding files (name -> text). */
export function tempDir(t: Test, files: Record<string, string> = {}): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'tshub-cli-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  for (const [name, text] of Object.entries(files)) writeFileSync(path.join(dir, name), text);
  return dir;
}
