// Start-up checks of the login configuration (issue #5 acceptance 5): a configuration with which nobody
// could log in, a plugin's own failed check (naming the key path) and auth_state without a usable
// JUPYTERHUB_CRYPT_KEY stop the hub loudly; the embedded default (local accounts) still starts; a .ts
// config may hold a post_auth_hook function.
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { pino } from 'pino';
import { buildHub, defaultRegistry, validateConfig } from '@tshub/hub';
import { fakeRedirectAuthenticator } from './support/fake-redirect-authenticator.js';
import { authDataDir } from './support/auth-test-hub.js';
import { runCli, tempDir } from './support/run-cli.js';

const logger = pino({ level: 'silent' });

t.test('buildHub refuses configurations with which nobody could log in', async (t) => {
  const { plugin, control } = fakeRedirectAuthenticator();
  const registry = defaultRegistry({ authenticators: [plugin] });
  let dir = '';
  const build = (authenticator: Record<string, unknown>) => {
    dir = authDataDir(t);
    const result = validateConfig({ hub: { data_dir: dir, db_url: `pglite:${path.join(dir, 'db')}` }, authenticator }, registry);
    if (!result.ok) throw new Error(result.errors.join('; '));
    return buildHub({ config: result.config, registry, logger, env: {} });
  };

  await t.rejects(build({ kind: 'fake-redirect' }), /nobody could log in.*authenticator\.allow_all.*authenticator\.allowed_users.*authenticator\.admin_users/s,
    'no allow rule at all: the error names the keys to set');
  control.hasAllowRules = true;
  const hub = await build({ kind: 'fake-redirect' });
  t.pass("starts when the plugin's own rules can let people in (hasAllowRules)");
  t.ok(existsSync(path.join(dir, 'db')), 'and creates its database (so its absence below means "refused first")');
  await hub.close();

  control.validateError = 'authenticator.token_url: not an https URL';
  await t.rejects(build({ kind: 'fake-redirect', allow_all: true }), { message: 'authenticator.token_url: not an https URL' }, "the plugin's validateConfig message is the start-up error");
  t.notOk(existsSync(path.join(dir, 'db')), 'refused before the database is created');
  control.validateError = null;

  const local = await build({});
  t.pass('the embedded default (local accounts, no config) still starts');
  await local.close();
});

t.test('the CLI: auth_state needs a usable JUPYTERHUB_CRYPT_KEY; a .ts config can hold post_auth_hook', async (t) => {
  const yaml = 'authenticator:\n  kind: dummy\n  enable_auth_state: true\nhub:\n  data_dir: state\n  db_url: "pglite:memory:"\n';
  const dir = tempDir(t, { 'tshub.config.yaml': yaml });
  const noKey = await runCli(dir, [], { timeoutMs: 20_000, env: { JUPYTERHUB_CRYPT_KEY: '' } });
  // Exit 2, as for an invalid config file.
  t.equal(noKey.code, 2, `refuses to start (exit ${noKey.code})`);
  t.match(noKey.stderr, /authenticator\.enable_auth_state.*JUPYTERHUB_CRYPT_KEY/);
  t.notMatch(noKey.stderr, /\n\s+at /, 'no stack trace');
  const badKey = await runCli(dir, [], { timeoutMs: 20_000, env: { JUPYTERHUB_CRYPT_KEY: `${randomBytes(32).toString('hex')};c2hvcnQ=` } });
  t.equal(badKey.code, 2, 'a malformed key in the list refuses to start');
  t.match(badKey.stderr, /JUPYTERHUB_CRYPT_KEY: key 2 is not 32 bytes/);

  const ts = tempDir(t, {
    'tshub.config.ts': 'export default { authenticator: { kind: "dummy", post_auth_hook: (model: { name: string }) => model } };\n',
    'bad.yaml': 'authenticator:\n  kind: dummy\n  post_auth_hook: "not a function"\n',
  });
  const check = await runCli(ts, ['config', 'check']);
  t.equal(check.code, 0, `a function in a .ts config validates (${check.stderr.trim()})`);
  const bad = await runCli(ts, ['config', 'check', '--config', 'bad.yaml']);
  t.not(bad.code, 0);
  t.match(bad.stderr, /authenticator\.post_auth_hook: must be a function/);
});
