/** The report: the table on stdout and the JSON results file. */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { log, REPO } from './common.js';
import type { ScenarioResult } from './load.js';

export function table(results: ScenarioResult[]): string {
  const lines: string[] = [];
  const row = (cols: string[]) => lines.push(cols[0]!.padEnd(24) + cols[1]!.padEnd(12) + cols.slice(2).map((c) => c.padStart(10)).join(''));
  row(['scenario', 'hub', 'requests', 'req/s', 'p50 ms', 'p99 ms', 'errors']);
  lines.push('-'.repeat(24 + 12 + 50));
  for (const r of results) {
    if (r.skipped || r.error) {
      lines.push(`${r.id.padEnd(24)}${r.skipped ? 'SKIPPED: ' + r.skipped : 'ERROR: ' + r.error}`);
      continue;
    }
    for (const name of ['tshub', 'jupyterhub'] as const) {
      const s = r[name]!;
      row([name === 'tshub' ? r.id : '', name, String(s.requests), s.rps.toFixed(1), s.p50_ms.toFixed(2), s.p99_ms.toFixed(2), String(s.errors)]);
    }
    const q = r.ratio!;
    lines.push(
      ''.padEnd(24) +
        `tshub/JupyterHub: throughput x${q.throughput} (per-round median x${q.throughput_per_round_median}, ` +
        `range ${q.throughput_per_round_min}-${q.throughput_per_round_max}), p50 latency x${q.p50_latency}, p99 latency x${q.p99_latency}`,
    );
    if (r.truncated) lines.push(''.padEnd(24) + `(stopped early: ${r.truncated})`);
  }
  return lines.join('\n');
}

export function gitInfo(): { commit: string | null; dirty_files: number | null } {
  const rev = spawnSync('git', ['rev-parse', 'HEAD'], { cwd: REPO, encoding: 'utf8' });
  const st = spawnSync('git', ['status', '--porcelain'], { cwd: REPO, encoding: 'utf8' });
  return {
    commit: rev.status === 0 ? rev.stdout.trim() : null,
    dirty_files: st.status === 0 ? st.stdout.split('\n').filter(Boolean).length : null,
  };
}

export function writeResults(file: string, data: unknown): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, JSON.stringify(data, null, 2) + '\n');
  log(`wrote ${path.relative(process.cwd(), file) || file}`);
}
