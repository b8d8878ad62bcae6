import t from 'tap';
import { startTestHub } from './support/test-hub.js';

const ADMIN = '5'.repeat(32);
const SERVERS = 500;
const ROUNDS = 10;

t.test(`${SERVERS} servers reporting activity every second for ${ROUNDS} s: bounded writes, bounded staleness`, async (t) => {
  const th = await startTestHub(t, { config: { hub: { api_tokens: { [ADMIN]: 'root' }, activity_resolution: 30 }, authenticator: { admin_users: ['root'] } } });
  const db = th.hub.ctx.db;
  const names = Array.from({ length: SERVERS }, (_, i) => `student${String(i).padStart(3, '0')}`);
  const users = await db.insertInto('users').values(names.map((name) => ({ name }))).returning(['id', 'name']).execute();
  await db.insertInto('spawners').values(users.map((u) => ({ user_id: u.id, name: '' }))).execute();
  const buffer = th.hub.ctx.activity;
  const before = buffer.statements;
  const flushMs = buffer.flushMs;

  const post = (name: string, when: string) =>
    fetch(`${th.hubUrl}/hub/api/users/${name}/activity`, {
      method: 'POST',
      headers: { authorization: `token ${ADMIN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ last_activity: when, servers: { '': { last_activity: when } } }),
    });
  const lastPosted = new Map<string, number>();
  const roundTimes: number[] = [];
  let violations = 0;
  let checks = 0;
  const t0 = Date.now();
  for (let round = 0; round < ROUNDS; round++) {
    const roundStart = Date.now();
    const when = new Date().toISOString();
    roundTimes.push(Date.parse(when));
    for (let i = 0; i < names.length; i += 50) {
      const batch = names.slice(i, i + 50);
      const res = await Promise.all(batch.map((n) => post(n, when)));
      for (const r of res) if (r.status !== 200) t.fail(`activity POST answered ${r.status}`);
      for (const n of batch) lastPosted.set(n, Date.parse(when));
    }
    // Staleness check mid-run: every report older than one flush interval (plus a second to write it)
    // must already be in the database.
    const sample = names[(round * 37) % names.length]!;
    const row = await db.selectFrom('users').select('last_activity').where('name', '=', sample).executeTakeFirstOrThrow();
    const due = roundTimes.filter((w) => w <= Date.now() - flushMs - 1000);
    if (due.length) {
      checks++;
      if ((row.last_activity?.getTime() ?? 0) < Math.max(...due)) violations++;
    }
    const rest = 1000 - (Date.now() - roundStart);
    if (rest > 0) await new Promise((r) => setTimeout(r, rest));
  }
  const elapsed = Date.now() - t0;
  await buffer.flush();
  const writes = buffer.statements - before;
  const bound = 2 * (Math.ceil(elapsed / flushMs) + 1);
  t.comment(`${SERVERS * ROUNDS} activity reports in ${(elapsed / 1000).toFixed(1)} s caused ${writes} database write statements (bound ${bound}); stated staleness ${flushMs} ms, ${checks} staleness checks`);
  t.ok(writes <= bound, `${writes} write statements for ${SERVERS * ROUNDS} reports (at most ${bound}: two per ${flushMs} ms flush)`);
  t.ok(checks > 0, 'staleness was checked during the run');
  t.equal(violations, 0, 'the database never missed a report older than the flush interval');

  const rows = await db.selectFrom('users').innerJoin('spawners', 'spawners.user_id', 'users.id')
    .select(['users.name', 'users.last_activity as u', 'spawners.last_activity as s']).where('users.name', 'like', 'student%').execute();
  const stale = rows.filter((r) => r.u?.getTime() !== lastPosted.get(r.name) || r.s?.getTime() !== lastPosted.get(r.name));
  t.equal(stale.length, 0, 'after the final flush every user and server holds its newest report');
});
