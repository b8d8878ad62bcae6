import t from 'tap';
import type { Authenticator, PluginLogger } from '@tshub/plugin-api';
import { dummyAuthenticator } from './dummy.js';
import type { DummyAuthConfig } from './dummy.js';
import { MemoryStore } from './memory-store.js';

const silent: PluginLogger = { debug() {}, info() {}, warn() {}, error() {} };
const make = (config: DummyAuthConfig) => dummyAuthenticator.create({ config, store: new MemoryStore(), log: silent, urls: { hubPrefix: '/hub/', publicOrigin: '' } });
const login = (auth: Authenticator, fields: Record<string, string>) => auth.authenticate({ fields, remoteAddress: '127.0.0.1' });

t.test('schema', async (t) => {
  t.equal(dummyAuthenticator.kind, 'dummy');
  const schema = dummyAuthenticator.configSchema as { type: string; properties: { password: { default: unknown; description: unknown } } };
  t.equal(schema.type, 'object');
  t.equal(schema.properties.password.default, '');
  t.type(schema.properties.password.description, 'string');
});

t.test('without a password anyone logs in with anything', async (t) => {
  for (const auth of [make({}), make({ password: '' })]) {
    t.equal(auth.loginKind, 'form');
    t.same(await login(auth, { username: 'alice', password: 'whatever' }), { name: 'alice' });
    t.same(await login(auth, { username: 'bob', password: '' }), { name: 'bob' });
    t.same(await login(auth, { username: 'carol' }), { name: 'carol' });
    t.equal(await login(auth, { username: '', password: 'x' }), null);
    t.equal(await login(auth, { username: '   ', password: 'x' }), null);
    t.equal(await login(auth, {}), null);
  }
});

t.test('with a password every user must give exactly it', async (t) => {
  const auth = make({ password: 'workshop-2025' });
  t.same(await login(auth, { username: 'alice', password: 'workshop-2025' }), { name: 'alice' });
  t.same(await login(auth, { username: 'bob', password: 'workshop-2025' }), { name: 'bob' });
  t.equal(await login(auth, { username: 'alice', password: 'workshop-2024' }), null);
  t.equal(await login(auth, { username: 'alice', password: 'workshop-2025 ' }), null, 'different length');
  t.equal(await login(auth, { username: 'alice', password: '' }), null);
  t.equal(await login(auth, { username: 'alice' }), null);
  t.equal(await login(auth, { username: '', password: 'workshop-2025' }), null);
});
