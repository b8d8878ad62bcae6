/**
 * tshub vs JupyterHub 3.0, on this machine, in one run, reported as ratios.
 *
 *   npx tsx bench/compare-jupyterhub.ts [--requests 2000] [--users 1000] [--concurrency 10] ...
 *
 * Starts both hubs (each with its own configurable-http-proxy) on free loopback ports in a temp dir,
 * creates the same users in both through POST /hub/api/users, then hits each hub's own port (not the
 * proxy) with the same request mixes. Every measurement is split into rounds that alternate between
 * the hubs (A B, B A, A B ...) so that noise from other work on the machine hits both. Prints a table
 * and writes bench/results/latest.json. Every process it starts is stopped (by process group id) and
 * the temp dir removed, also on failure, Ctrl-C or SIGTERM. See bench/README.md.
 *
 * This file reads the command line and runs the steps; the work is in bench/lib/: processes.ts
 * (child processes and cleanup), hubs.ts (configs, start-up, users, tokens, login), http.ts (the
 * client), scenarios.ts (the request mixes), load.ts (rounds and statistics), report.ts (table, JSON).
 */
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { elapsed, log, round } from './lib/common.js';
import { createUsers, prepareHub, startJupyterHub, startTshub, USER_BATCH, type HubSettings } from './lib/hubs.js';
import { globalWarmup, measure, type ScenarioResult } from './lib/load.js';
import { cleanup, createTmpDir, installCleanupHandlers, logTail, stopProc, stoppedBy } from './lib/processes.js';
import { gitInfo, table, writeResults } from './lib/report.js';
import { chooseScenarios } from './lib/scenarios.js';

// ---------------------------------------------------------------------------------------------
// Options

const HERE = path.dirname(fileURLToPath(import.meta.url));

const { values: argv } = parseArgs({
  options: {
    users: { type: 'string', default: '1000' },
    requests: { type: 'string', default: '2000' },
    warmup: { type: 'string', default: '200' },
    'global-warmup': { type: 'string', default: '1500' },
    'global-warmup-seconds': { type: 'string', default: '3' },
    concurrency: { type: 'string', default: '10' },
    round: { type: 'string', default: '250' },
    'scenario-seconds': { type: 'string', default: '30' },
    'max-seconds': { type: 'string', default: '175' },
    scenarios: { type: 'string', default: '' },
    jupyterhub: { type: 'string', default: 'jupyterhub' },
    out: { type: 'string', default: path.join(HERE, 'results', 'latest.json') },
    'keep-tmp': { type: 'boolean', default: false },
    'jupyterhub-no-fsync': { type: 'boolean', default: false },
    'tshub-db-url': { type: 'string', default: '' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});

if (argv.help) {
  process.stdout.write(`Usage: npx tsx bench/compare-jupyterhub.ts [options]

  --users N             users created in each hub before measuring (default 1000)
  --requests N          measured requests per hub per scenario (default 2000)
  --warmup N            unmeasured requests per hub before each scenario (default 200)
  --global-warmup N     unmeasured requests per hub per scenario before any is measured, so that
                        the first scenario does not pay for the JIT warming up (default 1500)
  --global-warmup-seconds S  at most S seconds of that per hub per scenario (default 3)
  --concurrency N       requests in flight per hub (default 10)
  --round N             requests per round; rounds alternate between the hubs (default 250)
  --scenario-seconds S  stop a scenario after the round pair that passes S seconds (default 30)
  --max-seconds S       hard limit for the whole run; it fails and cleans up past it (default 175)
  --scenarios LIST      comma-separated subset of: ${'token,token-config,users-page,activity,home'}
  --jupyterhub CMD      the jupyterhub executable (default: jupyterhub on PATH)
  --out FILE            results file (default bench/results/latest.json)
  --keep-tmp            keep the temp dir (configs, logs, databases) for inspection
  --jupyterhub-no-fsync JupyterHub's sqlite with PRAGMA synchronous=OFF: tshub's embedded PGlite
                        does not fsync, stock JupyterHub fsyncs every commit; this evens that out
  --tshub-db-url URL    tshub's hub.db_url (default: empty, the embedded PGlite in the temp dir)
`);
  process.exit(0);
}

const int = (name: string, v: string | undefined, min: number): number => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) {
    process.stderr.write(`--${name} must be an integer >= ${min}\n`);
    process.exit(2);
  }
  return n;
};
const OPTS = {
  users: int('users', argv.users, 0),
  requests: int('requests', argv.requests, 1),
  warmup: int('warmup', argv.warmup, 0),
  globalWarmup: int('global-warmup', argv['global-warmup'], 0),
  globalWarmupSeconds: int('global-warmup-seconds', argv['global-warmup-seconds'], 1),
  concurrency: int('concurrency', argv.concurrency, 1),
  round: int('round', argv.round, 1),
  scenarioSeconds: int('scenario-seconds', argv['scenario-seconds'], 1),
  maxSeconds: int('max-seconds', argv['max-seconds'], 10),
};
const HUBS: HubSettings = {
  concurrency: OPTS.concurrency,
  jupyterhub: argv.jupyterhub!,
  jupyterhubNoFsync: argv['jupyterhub-no-fsync']!,
  tshubDbUrl: argv['tshub-db-url'] ?? '',
};
const OUT = argv.out!;
/** Seconds kept free at the end of --max-seconds for stopping the hubs and writing the results. */
const STOP_RESERVE_SECONDS = 15;

installCleanupHandlers({ keepTmp: argv['keep-tmp']! });

// ---------------------------------------------------------------------------------------------
// Main

let timedOut = false;

async function main(): Promise<number> {
  const watchdog = setTimeout(() => {
    timedOut = true;
    log(`the run exceeded --max-seconds ${OPTS.maxSeconds}; stopping`);
    void cleanup()
      .then(() => writeResults(OUT, { ...result, error: `the run exceeded --max-seconds ${OPTS.maxSeconds}`, total_seconds: round(elapsed(), 1) }))
      .finally(() => process.exit(3));
  }, OPTS.maxSeconds * 1000);
  const result: Record<string, unknown> = {
    generated_at: new Date().toISOString(),
    settings: { ...OPTS, user_batch: USER_BATCH },
    machine: { cpus: os.cpus().length, cpu_model: os.cpus()[0]?.model ?? null, total_mem_gb: round(os.totalmem() / 2 ** 30, 1), loadavg_start: os.loadavg().map((x) => round(x)), platform: `${os.platform()} ${os.release()}`, node: process.version },
    git: gitInfo(),
  };
  const notes: string[] = [];
  try {
    const tmpDir = createTmpDir();
    const tokens = () => ({ admin: randomBytes(16).toString('hex'), alice: randomBytes(16).toString('hex') });
    log(`temp dir ${tmpDir}; starting JupyterHub and tshub`);
    const [jhStart, tsStart] = await Promise.allSettled([startJupyterHub(path.join(tmpDir, 'jupyterhub'), tokens(), HUBS), startTshub(path.join(tmpDir, 'tshub'), tokens(), HUBS)]);
    if (jhStart.status === 'rejected' || tsStart.status === 'rejected') {
      const why = [jhStart, tsStart].filter((s): s is PromiseRejectedResult => s.status === 'rejected').map((s) => (s.reason as Error).message);
      throw new Error(`a hub failed to start:\n${why.join('\n')}`);
    }
    const jh = jhStart.value;
    let ts = tsStart.value;
    log(`JupyterHub ${jh.version} at ${jh.hubUrl}, tshub (reports ${ts.version}) at ${ts.hubUrl}`);

    // The same users in both hubs, through the REST API, one hub after the other.
    const names = Array.from({ length: OPTS.users }, (_, i) => `bench-user-${String(i + 1).padStart(5, '0')}`);
    const creation: Record<string, number | null> = {};
    log(`creating ${OPTS.users} users in each hub (batches of ${USER_BATCH})`);
    creation.jupyterhub = await createUsers(jh, names);
    if (creation.jupyterhub === null) throw new Error('JupyterHub has no POST /hub/api/users?');
    creation.tshub = await createUsers(ts, names);
    if (creation.tshub === null) {
      const note = 'tshub had no POST /hub/api/users at run time: its users were created at start-up through hub.load_groups (group bench-users) instead';
      notes.push(note);
      log(note);
      await stopProc(ts.proc);
      ts = await startTshub(path.join(tmpDir, 'tshub'), { admin: ts.configAdminToken, alice: ts.configAliceToken }, HUBS, { load_groups: { 'bench-users': names } });
    }
    result.user_creation_seconds = { jupyterhub: creation.jupyterhub === null ? null : round(creation.jupyterhub), tshub: creation.tshub === null ? null : round(creation.tshub), note: 'POST /hub/api/users in batches, one hub after the other, not interleaved: indicative only' };

    const tsHub = await prepareHub(ts);
    const jhHub = await prepareHub(jh);
    result.hubs = {
      tshub: { version_reported: tsHub.version, url: tsHub.hubUrl, database: argv['tshub-db-url'] ? argv['tshub-db-url'].replace(/:[^:@/]*@/, ':***@') : 'embedded PGlite (default; no fsync per commit)', notes: tsHub.notes },
      jupyterhub: { version_reported: jhHub.version, url: jhHub.hubUrl, database: argv['jupyterhub-no-fsync'] ? 'sqlite, PRAGMA synchronous=OFF (--jupyterhub-no-fsync)' : 'sqlite (default; fdatasync per commit)', notes: jhHub.notes },
    };

    const chosen = chooseScenarios(argv.scenarios ?? '', OPTS.users + 2);
    // Warm both hubs up on every chosen scenario first (see globalWarmup).
    if (OPTS.globalWarmup) result.global_warmup_requests = await globalWarmup(chosen, tsHub, jhHub, OPTS);
    const results: ScenarioResult[] = [];
    // The time left before the watchdog, less a reserve for stopping the hubs, is shared among the
    // scenarios still to run (time one leaves unused goes to the next), each capped at --scenario-seconds.
    const measureDeadline = OPTS.maxSeconds - STOP_RESERVE_SECONDS;
    for (const [k, sc] of chosen.entries()) {
      const budget = Math.min(OPTS.scenarioSeconds, Math.max(1, (measureDeadline - elapsed()) / (chosen.length - k)));
      log(`measuring ${sc.id} (budget ${budget.toFixed(0)}s): ${sc.title}`);
      const r = await measure(sc, tsHub, jhHub, budget, OPTS);
      if (r.skipped) log(`  skipped: ${r.skipped}`);
      else if (r.error) log(`  error: ${r.error}`);
      else log(`  tshub ${r.tshub!.rps} req/s, JupyterHub ${r.jupyterhub!.rps} req/s: x${r.ratio!.throughput}`);
      results.push(r);
    }
    for (const h of [tsHub, jhHub]) {
      if (h.proc.exited !== null) throw new Error(`${h.name} ${h.proc.exited} during the run. Last lines of ${h.logPath}:\n${logTail(h.logPath)}`);
    }
    result.scenarios = results;
    result.notes = [
      ...notes,
      'Requests go to each hub\'s own port (not through configurable-http-proxy), from one Node process on the same machine, over keep-alive connections.',
      'Ratios are tshub / JupyterHub: throughput above 1 and latency below 1 mean tshub is faster.',
      'Both hubs run with default logging: JupyterHub writes one access-log line per request, tshub does not log successful requests.',
    ];
    result.machine = { ...(result.machine as object), loadavg_end: os.loadavg().map((x) => round(x)) };
    result.total_seconds = round(elapsed(), 1);
    process.stdout.write('\n' + table(results) + '\n\n');
    for (const n of notes) process.stdout.write(`note: ${n}\n`);
    const failed = results.some((r) => r.error || (r.tshub?.errors ?? 0) > 0 || (r.jupyterhub?.errors ?? 0) > 0);
    await cleanup();
    result.total_seconds = round(elapsed(), 1);
    writeResults(OUT, result);
    return failed ? 1 : 0;
  } catch (err) {
    if (stoppedBy() || timedOut) {
      await cleanup();
      return 1; // the signal handler or the watchdog exits
    }
    const msg = (err as Error).stack ?? String(err);
    log(`FAILED: ${msg}`);
    await cleanup();
    writeResults(OUT, { ...result, error: (err as Error).message, notes, total_seconds: round(elapsed(), 1) });
    return 1;
  } finally {
    clearTimeout(watchdog);
  }
}

main().then(
  (code) => process.exit(code),
  (err) => {
    log(`FAILED: ${(err as Error).stack ?? err}`);
    void cleanup().finally(() => process.exit(1));
  },
);
