// Black-box tests of the `tshub` CLI: each run spawns the compiled packages/hub/dist/main.js in a fresh
// temp directory and looks only at what a user sees (exit code, stdout, stderr, ports, files on disk).
import { createHash } from 'node:crypto';
import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import t, { type Test } from 'tap';
import pg from 'pg';
import { PGlite } from '@electric-sql/pglite';
import { freePort, portInUse } from './support/free-port.js';
import { need, postgresUrl } from './support/requirements.js';
import { runCli, tempDir } from './support/run-cli.js';
import { createTestDatabase } from './support/test-database.js';

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

interface Ports { publicPort: number; hubPort: number; apiPort: number }

/** YAML config lines that would make a started hub listen on three fresh ports. */
const listenOn = (p: Ports, hubPort: string | number = p.hubPort) =>
  `hub:\n  bind_url: http://127.0.0.1:${p.publicPort}\n  hub_port: ${hubPort}\n` +
  `proxy:\n  api_url: http://127.0.0.1:${p.apiPort}\n`;

interface BadConfig {
  name: string;
  yaml: (p: Ports) => string;
  /** Every pattern must appear in stderr, in one run. */
  expect: RegExp[];
  /** The ports that the config asks for (hub_port is not one when it is the broken value). */
  ports: (p: Ports) => number[];
}

const allPorts = (p: Ports) => [p.publicPort, p.hubPort, p.apiPort];
const BAD_CONFIGS: BadConfig[] = [
  {
    name: 'a misspelled key',
    yaml: (p) => listenOn(p) + 'spawner: {start_timout: 5}\n',
    expect: [/spawner\.start_timout/, /did you mean 'start_timeout'/],
    ports: allPorts,
  },
  {
    name: 'a value of the wrong type',
    yaml: (p) => listenOn(p, '"abc"'),
    expect: [/hub\.hub_port/, /"abc"/],
    ports: (p) => [p.publicPort, p.apiPort],
  },
  {
    name: 'a misspelled key, a wrong type and an unknown section at once',
    yaml: (p) => listenOn(p, '"abc"') + 'spawner: {start_timout: 5}\nextras: {colour: blue}\n',
    expect: [
      /has 3 problems/,
      /spawner\.start_timout: .*did you mean 'start_timeout'/,
      /hub\.hub_port/,
      /extras: unknown option.*hub, authenticator, spawner, proxy/,
    ],
    ports: (p) => [p.publicPort, p.apiPort],
  },
  {
    name: 'an unknown spawner kind',
    yaml: (p) => listenOn(p) + 'spawner: {kind: nomad}\n',
    expect: [/spawner\.kind/, /"nomad"/, /known kinds: .*simple/, /local-process/],
    ports: allPorts,
  },
  {
    name: 'a YAML syntax error',
    yaml: (p) => listenOn(p) + 'spawner: [start_timeout: : 5\n',
    expect: [/tshub\.config\.yaml/, /cannot parse/],
    ports: allPorts,
  },
];

const freshPorts = async (): Promise<Ports> => ({ publicPort: await freePort(), hubPort: await freePort(), apiPort: await freePort() });

t.test('a bad config: start and `config check` report every problem and bind no port', async (t) => {
  for (const bad of BAD_CONFIGS) {
    await t.test(bad.name, async (t) => {
      const ports = await freshPorts();
      const dir = tempDir(t, { 'tshub.config.yaml': bad.yaml(ports) });
      const start = await runCli(dir, [], { timeoutMs: 15_000 });
      t.notOk(start.timedOut, 'start exits on its own');
      t.ok(start.ms < 5_000, `and within a few seconds (${start.ms} ms)`);
      t.not(start.code, 0, `start exits non-zero (got ${start.code})`);
      for (const re of bad.expect) t.match(start.stderr, re, `stderr reports ${re}`);
      t.notMatch(start.stderr, /\n\s+at /, 'no stack trace');
      for (const port of bad.ports(ports)) t.notOk(await portInUse(port), `nothing listens on configured port ${port}`);

      const check = await runCli(dir, ['config', 'check']);
      t.not(check.code, 0, `config check exits non-zero (got ${check.code})`);
      t.equal(check.stderr, start.stderr, 'config check prints the same messages');
      t.equal(check.stdout, '', 'and does not claim OK');
    });
  }
});

t.test('tshub config check', async (t) => {
  const good = { hub: { hub_port: 9000, data_dir: 'state' }, spawner: { start_timeout: 5 }, authenticator: { kind: 'dummy' } };
  const cases: [string, Record<string, string>, string[]][] = [
    ['YAML', { 'tshub.config.yaml': 'hub:\n  hub_port: 9000\nspawner:\n  start_timeout: 5\nauthenticator:\n  kind: dummy\n' }, []],
    ['JSON', { 'tshub.config.json': JSON.stringify(good) }, []],
    ['TypeScript (export default)', { 'tshub.config.ts': `export default ${JSON.stringify(good)};\n` }, []],
    ['--config FILE', { 'elsewhere.json': JSON.stringify(good) }, ['--config', 'elsewhere.json']],
    ['no config file at all (defaults)', {}, []],
  ];
  for (const [name, files, extra] of cases) {
    t.test(`accepts a good config: ${name}`, async (t) => {
      const run = await runCli(tempDir(t, files), ['config', 'check', ...extra]);
      t.equal(run.code, 0, `exit 0 (stderr: ${run.stderr.trim()})`);
      t.match(run.stdout, /\bOK\b/, 'prints OK');
      t.equal(run.stderr, '', 'nothing on stderr');
    });
  }

  t.test('a --config file that does not exist is an error', async (t) => {
    const run = await runCli(tempDir(t), ['config', 'check', '--config', 'missing.yaml']);
    t.not(run.code, 0, 'exits non-zero');
    t.match(run.stderr, /missing\.yaml/, 'names the file');
  });
});

t.test('help and unknown commands', async (t) => {
  // Help needs no (valid) config: it is what a confused user runs first.
  const dir = tempDir(t, { 'tshub.config.yaml': 'spawner: [broken\n' });
  const helps: [string[], RegExp][] = [
    [['--help'], /Usage:[\s\S]*tshub migrate[\s\S]*tshub config check[\s\S]*tshub token USER/],
    [['-h'], /Usage:/],
    [['migrate', '--help'], /Usage: tshub migrate/],
    [['token', '--help'], /Usage: tshub token USER/],
    [['config', '--help'], /Usage: tshub config check/],
  ];
  for (const [args, usage] of helps) {
    const run = await runCli(dir, args);
    t.equal(run.code, 0, `tshub ${args.join(' ')} exits 0`);
    t.match(run.stdout, usage, `tshub ${args.join(' ')} prints its usage`);
    t.equal(run.stderr, '', `tshub ${args.join(' ')} writes nothing to stderr`);
  }
  const unknown = await runCli(dir, ['frobnicate']);
  t.not(unknown.code, 0, 'an unknown command exits non-zero');
  t.match(unknown.stderr, /unknown command 'frobnicate'/, 'names the command');
  t.match(unknown.stderr, /tshub --help/, 'and points at --help');
  t.equal(unknown.stdout, '');
});

/** A temp dir whose config keeps the embedded PGlite database (and everything else) inside it. */
const pgliteDir = (t: Test) => {
  const dir = tempDir(t);
  writeFileSync(path.join(dir, 'tshub.config.yaml'), `hub:\n  data_dir: ${JSON.stringify(dir)}\n`);
  return dir;
};

t.test('tshub migrate creates the embedded database, then finds it up to date', async (t) => {
  const dir = pgliteDir(t);
  const first = await runCli(dir, ['migrate']);
  t.equal(first.code, 0, `exit 0 (stderr: ${first.stderr.trim()})`);
  t.match(first.stdout, /Applied migrations: \S+/, 'says which migrations were applied');
  t.ok(existsSync(path.join(dir, 'db')), 'the database is in data_dir/db');
  const second = await runCli(dir, ['migrate']);
  t.equal(second.code, 0, 'second run exits 0');
  t.match(second.stdout, /up to date/, 'second run says the database is up to date');
  t.notMatch(second.stdout, /Applied/, 'and applies nothing');
});

t.test('tshub token USER prints a new token and stores only its hash', async (t) => {
  const dir = pgliteDir(t);
  const tokens: string[] = [];
  for (let i = 0; i < 2; i++) {
    const run = await runCli(dir, ['token', 'alice']);
    t.equal(run.code, 0, `exit 0 (stderr: ${run.stderr.trim()})`);
    t.match(run.stdout, /^[0-9a-f]{32}\n$/, 'stdout is exactly one 32-hex-char token');
    tokens.push(run.stdout.trim());
  }
  t.not(tokens[0], tokens[1], 'each run issues a different token');

  const db = new PGlite(path.join(dir, 'db'));
  try {
    const { rows } = await db.query<{ hashed: string; prefix: string; name: string }>(
      'select t.hashed, t.prefix, u.name from api_tokens t join users u on u.id = t.user_id order by t.id',
    );
    t.same(rows.map((r) => r.name), ['alice', 'alice'], 'both tokens belong to alice (created on first use)');
    t.same(rows.map((r) => r.hashed), tokens.map(sha256), 'the stored value is sha256(token)');
    t.same(rows.map((r) => r.prefix), tokens.map((tok) => tok.slice(0, 4)), 'with the token prefix kept for display');
    const dump = JSON.stringify((await db.query('select * from api_tokens')).rows);
    for (const tok of tokens) t.notOk(dump.includes(tok), 'the plaintext token is nowhere in api_tokens');
  } finally {
    await db.close();
  }
});

t.test('tshub token without a user name is a usage error', async (t) => {
  const run = await runCli(pgliteDir(t), ['token']);
  t.not(run.code, 0, 'exits non-zero');
  t.match(run.stderr, /usage: tshub token USER/i, 'says how to call it');
  t.equal(run.stdout, '', 'prints no token');
});

t.test('tshub migrate against Postgres (hub.db_url)', async (t) => {
  if (!need(t, postgresUrl() !== '', 'Postgres (set TSHUB_TEST_POSTGRES_URL)')) return;
  const created = await createTestDatabase(postgresUrl());
  t.teardown(() => created.drop());
  const dir = tempDir(t);
  writeFileSync(path.join(dir, 'tshub.config.yaml'), `hub:\n  data_dir: ${JSON.stringify(dir)}\n  db_url: ${JSON.stringify(created.url)}\n`);

  const first = await runCli(dir, ['migrate']);
  t.equal(first.code, 0, `exit 0 (stderr: ${first.stderr.trim()})`);
  t.match(first.stdout, /Applied migrations: \S+/, 'says which migrations were applied');
  t.notOk(existsSync(path.join(dir, 'db')), 'no embedded database was created instead');
  const second = await runCli(dir, ['migrate']);
  t.equal(second.code, 0, 'second run exits 0');
  t.match(second.stdout, /up to date/, 'second run says up to date');

  const client = new pg.Client({ connectionString: created.url });
  await client.connect();
  try {
    const { rows } = await client.query<{ table_name: string }>(
      "select table_name from information_schema.tables where table_schema = 'public' and table_name in ('users', 'api_tokens')",
    );
    t.same(rows.map((r) => r.table_name).sort(), ['api_tokens', 'users'], 'the schema is in the Postgres database');
  } finally {
    await client.end();
  }
});
