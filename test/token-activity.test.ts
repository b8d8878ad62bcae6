import t from 'tap';
import { startTestHub } from './support/test-hub.js';

const TOKEN = 'f'.repeat(32);

t.test('token use is recorded, at most once per activity_resolution', async (t) => {
  const th = await startTestHub(t, { config: { hub: { api_tokens: { [TOKEN]: 'alice' }, activity_resolution: 30 } } });
  const db = th.hub.ctx.db;
  const read = async () => {
    const row = await db.selectFrom('api_tokens').innerJoin('users', 'users.id', 'api_tokens.user_id')
      .select(['api_tokens.last_activity as token', 'users.last_activity as user']).where('users.name', '=', 'alice').executeTakeFirstOrThrow();
    return row;
  };
  t.same(await read(), { token: null, user: null }, 'unused token: no activity yet');
  const call = () => fetch(`${th.hubUrl}/hub/api/user`, { headers: { authorization: `token ${TOKEN}` } });
  t.equal((await call()).status, 200);
  let first = await read();
  for (let i = 0; i < 50 && !first.token; i++) {
    await new Promise((r) => setTimeout(r, 20));
    first = await read();
  }
  t.ok(first.token instanceof Date, 'the token\'s last_activity is set');
  t.ok(first.user instanceof Date, 'and so is its owner\'s');
  for (let i = 0; i < 20; i++) t.equal((await call()).status, 200);
  await new Promise((r) => setTimeout(r, 100));
  const after = await read();
  t.same(after.token, first.token, 'twenty more requests within the resolution write nothing');
});
