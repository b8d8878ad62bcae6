/**
 * The load: batches of requests with a fixed number in flight, measurements split into rounds that
 * alternate between the hubs (A B, B A, A B ...) so that noise from other work on the machine hits
 * both, and the latency and throughput statistics drawn from them.
 */
import { performance } from 'node:perf_hooks';
import { log, round, snippet } from './common.js';
import { send } from './http.js';
import type { Hub } from './hubs.js';
import type { Scenario } from './scenarios.js';

/** What the command line says about the load. */
export interface LoadOptions {
  /** Requests in flight per hub. */
  concurrency: number;
  /** Unmeasured requests per hub before each scenario. */
  warmup: number;
  /** Measured requests per hub per scenario. */
  requests: number;
  /** Requests per round. */
  round: number;
  /** Unmeasured requests per hub per scenario before any scenario is measured ... */
  globalWarmup: number;
  /** ... for at most this many seconds. */
  globalWarmupSeconds: number;
}

interface Batch {
  latencies: number[];
  ms: number;
  errors: number;
  firstError: string | null;
}

/** n requests (fewer if `untilMs`, a performance.now() deadline, passes first), `concurrency` at a time. */
async function runBatch(h: Hub, sc: Scenario, n: number, offset: number, concurrency: number, untilMs = Infinity): Promise<Batch> {
  const latencies: number[] = [];
  let errors = 0;
  let firstError: string | null = null;
  let next = 0;
  const worker = async () => {
    for (;;) {
      const i = next++;
      if (i >= n || performance.now() > untilMs) return;
      const req = sc.make(h, offset + i);
      const start = performance.now();
      try {
        const res = await send(h, req, false);
        if (res.status !== sc.expect) {
          errors++;
          firstError ??= `HTTP ${res.status} for ${req.method ?? 'GET'} ${req.path}`;
        }
      } catch (err) {
        errors++;
        firstError ??= (err as Error).message;
      }
      latencies.push(performance.now() - start);
    }
  };
  const start = performance.now();
  await Promise.all(Array.from({ length: Math.min(concurrency, n) }, worker));
  return { latencies, ms: performance.now() - start, errors, firstError };
}

export interface HubStats {
  requests: number;
  seconds: number;
  rps: number;
  p50_ms: number;
  p90_ms: number;
  p99_ms: number;
  mean_ms: number;
  errors: number;
  first_error: string | null;
}

function quantile(sorted: number[], q: number): number {
  if (!sorted.length) return NaN;
  const idx = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[idx]!;
}
function stats(batches: Batch[]): HubStats {
  const lat = batches.flatMap((b) => b.latencies).sort((a, b) => a - b);
  const ms = batches.reduce((s, b) => s + b.ms, 0);
  return {
    requests: lat.length,
    seconds: round(ms / 1000, 3)!,
    rps: round(lat.length / (ms / 1000), 1)!,
    p50_ms: round(quantile(lat, 0.5))!,
    p90_ms: round(quantile(lat, 0.9))!,
    p99_ms: round(quantile(lat, 0.99))!,
    mean_ms: round(lat.reduce((s, x) => s + x, 0) / lat.length)!,
    errors: batches.reduce((s, b) => s + b.errors, 0),
    first_error: batches.find((b) => b.firstError)?.firstError ?? null,
  };
}
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? (s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2) : NaN;
};

export interface ScenarioResult {
  id: string;
  title: string;
  budget_seconds: number;
  skipped?: string;
  error?: string;
  truncated?: string;
  rounds?: number;
  tshub?: HubStats;
  jupyterhub?: HubStats;
  ratio?: {
    throughput: number | null;
    throughput_per_round_median: number | null;
    throughput_per_round_min: number | null;
    throughput_per_round_max: number | null;
    p50_latency: number | null;
    p99_latency: number | null;
  };
}

export async function measure(sc: Scenario, ts: Hub, jh: Hub, budgetSeconds: number, opts: LoadOptions): Promise<ScenarioResult> {
  const out: ScenarioResult = { id: sc.id, title: sc.title, budget_seconds: round(budgetSeconds, 1)! };
  // One request to each hub first: is the endpoint there, and does it answer what it should?
  for (const h of [ts, jh]) {
    const req = sc.make(h, 0);
    const res = await send(h, req);
    if (sc.skipOn?.includes(res.status)) {
      out.skipped = `${h.name} answered ${res.status} to ${req.method ?? 'GET'} ${req.path} (not implemented there at run time): ${snippet(res.body, 160)}`;
      return out;
    }
    const problem = res.status !== sc.expect ? `HTTP ${res.status}: ${snippet(res.body, 200)}` : sc.check?.(res) ?? null;
    if (problem) {
      out.error = `${h.name}: ${req.method ?? 'GET'} ${req.path}: ${problem}`;
      return out;
    }
  }
  const begin = performance.now();
  if (opts.warmup) {
    await runBatch(ts, sc, opts.warmup, 0, opts.concurrency);
    await runBatch(jh, sc, opts.warmup, 0, opts.concurrency);
  }
  const rounds = Math.max(1, Math.ceil(opts.requests / opts.round));
  const batches: Record<'tshub' | 'jupyterhub', Batch[]> = { tshub: [], jupyterhub: [] };
  const perRound: number[] = [];
  let done = 0;
  for (let r = 0; r < rounds; r++) {
    const n = Math.min(opts.round, opts.requests - r * opts.round);
    const order = r % 2 === 0 ? [ts, jh] : [jh, ts];
    for (const h of order) batches[h.name].push(await runBatch(h, sc, n, opts.warmup + r * opts.round, opts.concurrency));
    const a = batches.tshub.at(-1)!;
    const b = batches.jupyterhub.at(-1)!;
    perRound.push(a.latencies.length / a.ms / (b.latencies.length / b.ms));
    done = r + 1;
    // Stop before the round pair that would overrun the budget (warm-up included), judging by the last one.
    const spent = (performance.now() - begin) / 1000;
    const lastPair = (a.ms + b.ms) / 1000;
    if (done < rounds && spent + lastPair > budgetSeconds) {
      out.truncated = `time budget of ${budgetSeconds.toFixed(1)}s: ${done} of ${rounds} round pairs`;
      log(`  ${sc.id}: ${out.truncated}`);
      break;
    }
  }
  out.rounds = done;
  out.tshub = stats(batches.tshub);
  out.jupyterhub = stats(batches.jupyterhub);
  out.ratio = {
    throughput: round(out.tshub.rps / out.jupyterhub.rps),
    throughput_per_round_median: round(median(perRound)),
    throughput_per_round_min: round(Math.min(...perRound)),
    throughput_per_round_max: round(Math.max(...perRound)),
    p50_latency: round(out.tshub.p50_ms / out.jupyterhub.p50_ms, 3),
    p99_latency: round(out.tshub.p99_ms / out.jupyterhub.p99_ms, 3),
  };
  return out;
}

/**
 * Warms both hubs up on every scenario before any is measured. V8 needs a few thousand requests to
 * optimise tshub's hot paths: with only the per-scenario warm-up, whichever scenario came first
 * measured tshub 20-40% slower than when it came later. CPython has no JIT; the cap in seconds keeps
 * JupyterHub's slow endpoints from eating the time budget. Returns the requests made, per hub.
 */
export async function globalWarmup(scenarios: Scenario[], ts: Hub, jh: Hub, opts: LoadOptions): Promise<Record<'tshub' | 'jupyterhub', string[]>> {
  const warmStart = performance.now();
  const warmed: Record<'tshub' | 'jupyterhub', string[]> = { tshub: [], jupyterhub: [] };
  for (const sc of scenarios) {
    const probe = await send(ts, sc.make(ts, 0));
    if (probe.status !== sc.expect) continue; // measure() reports it
    for (const h of [ts, jh]) {
      const b = await runBatch(h, sc, opts.globalWarmup, 0, opts.concurrency, performance.now() + opts.globalWarmupSeconds * 1000);
      warmed[h.name].push(`${sc.id} ${b.latencies.length}`);
    }
  }
  log(`warm-up (up to ${opts.globalWarmup} requests or ${opts.globalWarmupSeconds}s per hub per scenario) took ${((performance.now() - warmStart) / 1000).toFixed(1)}s: ` +
    `tshub ${warmed.tshub.join(', ')}; JupyterHub ${warmed.jupyterhub.join(', ')}`);
  return warmed;
}
