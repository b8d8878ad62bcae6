import t from 'tap';
import { startTestHub } from './support/test-hub.js';

const ADMIN = '6'.repeat(32);

/** name{labels} value lines of a Prometheus exposition, as a map. */
function samples(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{[^}]*\})?)\s+(\S+)$/.exec(line);
    if (!m) throw new Error(`not Prometheus text format: ${line}`);
    out.set(m[1]!, Number(m[2]));
  }
  return out;
}

t.test('a scripted day: the activity report and /hub/metrics count the same things', async (t) => {
  const th = await startTestHub(t, { config: { hub: { api_tokens: { [ADMIN]: 'root' } }, authenticator: { admin_users: ['root'] } } });
  const { events } = th.hub.ctx;
  const users = ['ann', 'ben', 'cat', 'dan', 'eve', 'fay'];
  for (let i = 0; i < 10; i++) events.emit('login', { user: users[i % users.length]! });
  for (let i = 1; i <= 8; i++) {
    events.emit('spawn-requested', { user: users[i % users.length]!, server: '' });
    events.emit('spawn-ready', { user: users[i % users.length]!, server: '', seconds: i });
  }
  events.emit('spawn-failed', { user: 'ann', server: '', seconds: 60, reason: 'timeout', message: 'Timeout' });
  events.emit('spawn-failed', { user: 'ben', server: '', seconds: 0.1, reason: 'command-not-found', message: 'not found' });
  for (const u of ['cat', 'dan', 'eve']) events.emit('stop', { user: u, server: '', seconds: 0.5, reason: 'cull', cull_reason: 'idle' });
  await th.hub.ctx.activity.flush();

  const get = (path: string) => fetch(`${th.hubUrl}${path}`, { headers: { authorization: `token ${ADMIN}` } });
  let report: { spawns: { count: number; p50: number }; failures: Record<string, number>; culls: Record<string, number> } | null = null;
  for (let i = 0; i < 40 && !(report && report.spawns.count === 8 && Object.keys(report.culls).length); i++) {
    await new Promise((r) => setTimeout(r, 250));
    const from = new Date(Date.now() - 3600_000).toISOString();
    report = (await (await get(`/hub/api/activity?from=${encodeURIComponent(from)}&bucket=hour`)).json()) as typeof report;
  }
  t.equal(report?.spawns.count, 8, 'the report counts 8 spawns');
  t.equal(report?.spawns.p50, 4.5, 'with the median spawn time');
  t.same(report?.failures, { 'command-not-found': 1, timeout: 1 }, 'failures by reason');
  t.same(report?.culls, { idle: 3 }, 'culls by reason');

  const res = await get('/hub/metrics');
  t.equal(res.status, 200);
  const m = samples(await res.text());
  t.equal(m.get('jupyterhub_server_spawn_duration_seconds_count{status="success"}'), 8, 'metrics: 8 successful spawns');
  t.equal(m.get('jupyterhub_server_spawn_duration_seconds_sum{status="success"}'), 36, 'metrics: their total time (1+...+8)');
  t.equal(m.get('jupyterhub_server_spawn_duration_seconds_count{status="failure"}'), 2, 'metrics: 2 failures');
  t.equal(m.get('jupyterhub_server_stop_seconds_count{status="success"}'), 3, 'metrics: 3 stops (the culls)');
});
