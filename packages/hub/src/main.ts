#!/usr/bin/env node
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fail, loadConfigOrExit } from './cli/load.js';
import { ACTIVITY_HELP } from './cli/activity-help.js';
// The hub, the database and the command modules load only when a command needs them: help, a config
// check and a bad config answer in a fraction of the time (no server framework, no database driver).

const HELP: Record<string, string> = {
  '': `tshub: a JupyterHub-compatible hub

Usage:
  tshub [--config FILE]            start the hub (default config: ./tshub.config.{yaml,yml,json,js,ts})
  tshub migrate [--config FILE]    bring the database schema up to date, then exit
  tshub config check [--config FILE]
                                   validate the config, print every problem, exit non-zero if any
  tshub token USER [--note TEXT] [--config FILE]
                                   issue an API token for USER (created if missing) and print it
  tshub activity [--from TIME] [--to TIME] [--bucket hour|day] [--json] [--config FILE]
                                   print the activity report (logins, spawns, failures, culls, users)
  tshub COMMAND --help             help for one command

Options:
  -c, --config FILE   the config file
  -h, --help          this help
`,
  migrate: 'Usage: tshub migrate [--config FILE]\n\nApplies pending database migrations and exits. The hub also does this at start.\n',
  config: 'Usage: tshub config check [--config FILE]\n\nValidates the config file once, reports every bad key with its path, exits 2 if any.\n',
  token: 'Usage: tshub token USER [--note TEXT] [--config FILE]\n\nPrints a new API token with all of USER\'s permissions, for scripts (Authorization: token ...).\n',
  activity: ACTIVITY_HELP,
};

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      config: { type: 'string', short: 'c' }, help: { type: 'boolean', short: 'h' }, note: { type: 'string' },
      from: { type: 'string' }, to: { type: 'string' }, bucket: { type: 'string' }, json: { type: 'boolean' },
    },
  });
  const [command = '', ...rest] = positionals;
  if (!(command in HELP) && command !== 'start') fail(`unknown command '${command}'. Run tshub --help.`);
  if (values.help) {
    process.stdout.write(HELP[command === 'start' ? '' : command] ?? HELP['']!);
    return;
  }
  if (command === 'config' && rest[0] !== 'check') fail('usage: tshub config check [--config FILE]');
  if (command === 'token' && !rest[0]) fail('usage: tshub token USER [--note TEXT] [--config FILE]');
  const { config } = await loadConfigOrExit(values.config);

  if (command === 'config') {
    if (rest[0] !== 'check') fail("usage: tshub config check [--config FILE]");
    process.stdout.write('Configuration OK.\n');
    return;
  }
  if (command === 'activity') {
    const { activityCommand } = await import('./cli/activity-command.js');
    await activityCommand(config, values);
    return;
  }
  if (command === 'migrate' || command === 'token') {
    const [{ openDatabase }, { migrateToLatest }, { ensureUser }, { insertToken }] = await Promise.all([
      import('./db/open-database.js'), import('./db/migrate.js'), import('./db/users.js'), import('./db/tokens.js'),
    ]);
    const db = await openDatabase({ dbUrl: config.hub.db_url || process.env.TSHUB_DB_URL || '', dataDir: path.resolve(config.hub.data_dir) });
    try {
      const { applied } = await migrateToLatest(db.db);
      if (command === 'migrate') {
        process.stdout.write(applied.length ? `Applied migrations: ${applied.join(', ')}\n` : 'The database is up to date.\n');
        return;
      }
      const name = rest[0];
      if (!name) fail('usage: tshub token USER');
      const user = await ensureUser(db.db, name);
      const { token } = await insertToken(db.db, { userId: user.id, note: values.note ?? 'Requested via tshub token', scopes: ['inherit'] });
      process.stdout.write(token + '\n');
    } finally {
      await db.close();
    }
    return;
  }

  const { buildHub } = await import('./build-hub.js');
  const hub = await buildHub({ config, onShutdown: () => process.exit(0) });
  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    hub.ctx.log.info({ signal }, 'shutting down');
    await hub.close().catch((err) => hub.ctx.log.error({ err }, 'shutdown failed'));
    process.exit(0);
  };
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  await hub.start();
}

main().catch(fail);
