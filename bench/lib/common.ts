/** Small helpers shared by the benchmark modules: the run's clock and log, rounding, paths. */
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

/** The repository root (this file is bench/lib/common.ts). */
export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

export const fail = (msg: string): never => {
  throw new Error(msg);
};

const t0 = performance.now();
/** Seconds since the benchmark started. */
export const elapsed = () => (performance.now() - t0) / 1000;
export const log = (msg: string) => process.stderr.write(`[bench ${elapsed().toFixed(1).padStart(5)}s] ${msg}\n`);
export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export const round = (x: number, d = 2) => (Number.isFinite(x) ? Math.round(x * 10 ** d) / 10 ** d : null);
export const snippet = (s: string, n = 300) => (s.length > n ? s.slice(0, n) + '...' : s).replace(/\s+/g, ' ');
