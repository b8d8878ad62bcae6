import { execFile } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { parse } from 'yaml';
import { defaultRegistry, validateConfig } from '@tshub/hub';
import { need } from './support/requirements.js';
import { runCli, tempDir } from './support/run-cli.js';

// The single-machine deployment (docker-compose.yml + deploy/docker) as a department would run it:
// Debian's docker-compose must accept it, and the hub config it mounts must pass `tshub config check`.

const COMPOSE = '/usr/bin/docker-compose';
const run = promisify(execFile);

interface ComposeService {
  image?: string;
  build?: unknown;
  command?: string[];
  environment?: Record<string, string>;
  volumes?: string[];
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test: string[] };
  networks?: Record<string, unknown>;
  ports?: { published: number; target: number }[];
  group_add?: string[];
}

/** A copy of the deployment as an admin sets it up: the env example copied to the real env file. */
function deployment(t: Parameters<typeof tempDir>[0], compose = readFileSync('docker-compose.yml', 'utf8')): string {
  const dir = tempDir(t, { 'docker-compose.yml': compose });
  mkdirSync(path.join(dir, 'deploy/docker'), { recursive: true });
  copyFileSync('deploy/docker/tshub.yaml', path.join(dir, 'deploy/docker/tshub.yaml'));
  copyFileSync('deploy/docker/tshub.env.example', path.join(dir, 'deploy/docker/tshub.env'));
  return dir;
}

async function composeConfig(dir: string): Promise<{ code: number; stdout: string; stderr: string }> {
  const env = { ...process.env };
  for (const k of ['DOCKER_GID', 'TSHUB_PORT', 'COMPOSE_FILE', 'COMPOSE_PROJECT_NAME']) delete env[k];
  try {
    const { stdout, stderr } = await run(COMPOSE, ['-f', 'docker-compose.yml', 'config'], { cwd: dir, env, timeout: 30_000 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

t.test('docker-compose config accepts docker-compose.yml', async (t) => {
  if (!need(t, existsSync(COMPOSE), 'docker-compose (apt-get install docker-compose)')) return;
  const dir = deployment(t);
  const res = await composeConfig(dir);
  t.equal(res.code, 0, res.stderr);
  const { services, networks, volumes } = parse(res.stdout) as { services: Record<string, ComposeService>; networks: Record<string, { name?: string }>; volumes: Record<string, unknown> };
  t.same(Object.keys(services).sort(), ['db', 'hub', 'proxy']);
  const { hub, db, proxy } = services as Record<'hub' | 'db' | 'proxy', ComposeService>;
  const hubConfig = parse(readFileSync('deploy/docker/tshub.yaml', 'utf8')) as any;

  t.ok(hub.build, 'the hub image is built from the repository');
  t.same(hub.command, ['start', '--config', '/srv/tshub/tshub.yaml']);
  t.ok(hub.volumes?.includes('/var/run/docker.sock:/var/run/docker.sock:rw'), 'the Docker socket is mounted');
  t.ok(hub.volumes?.some((v) => v.endsWith('deploy/docker/tshub.yaml:/srv/tshub/tshub.yaml:ro')), 'the hub config is mounted read-only');
  for (const key of ['TSHUB_DB_URL', 'CONFIGPROXY_AUTH_TOKEN', 'JPY_COOKIE_SECRET', 'JUPYTERHUB_CRYPT_KEY']) t.ok(hub.environment?.[key], `$${key} comes from the env file`);
  t.same(hub.depends_on?.db, { condition: 'service_healthy' }, 'the hub waits for a healthy database');
  t.ok(hub.group_add?.length, 'the unprivileged hub user gets the Docker socket group');

  t.equal(db.image?.split(':')[0], 'postgres');
  t.ok(db.volumes?.some((v) => v.startsWith('db-data:/var/lib/postgresql/data')) && 'db-data' in volumes, 'Postgres keeps its data in a named volume');
  t.match(db.healthcheck?.test.join(' '), /pg_isready/);
  const dbUrl = new URL(hub.environment!.TSHUB_DB_URL!);
  t.equal(dbUrl.hostname, 'db');
  t.equal(decodeURIComponent(dbUrl.password), db.environment?.POSTGRES_PASSWORD, 'the hub uses the password Postgres is created with');
  t.equal(dbUrl.username, db.environment?.POSTGRES_USER);

  t.match(proxy.image, /configurable-http-proxy/);
  t.match(proxy.ports, [{ published: 8000, target: 8000 }], 'students connect to port 8000');
  t.equal(proxy.environment?.CONFIGPROXY_AUTH_TOKEN, hub.environment?.CONFIGPROXY_AUTH_TOKEN, 'hub and proxy share the token');
  t.equal(hubConfig.proxy.should_start, false, 'the hub does not start a proxy of its own');
  const api = new URL(hubConfig.proxy.api_url);
  t.equal(api.hostname, 'proxy');
  t.ok(proxy.command?.includes(`--api-port=${api.port}`), 'proxy.api_url is the proxy service API port');
  t.ok(proxy.command?.includes(`--default-target=${hubConfig.hub.hub_connect_url}`));

  t.equal(networks[hubConfig.spawner.network_name]?.name, hubConfig.spawner.network_name, "students' containers join the compose network by its fixed name");
  for (const [name, svc] of Object.entries(services)) t.ok(svc.networks && hubConfig.spawner.network_name in svc.networks, `${name} is on that network`);
  t.equal(new URL(hubConfig.hub.hub_connect_url).hostname, 'hub', 'containers reach the hub by its service name');
});

t.test('docker-compose config rejects a broken file (the check above can fail)', async (t) => {
  if (!need(t, existsSync(COMPOSE), 'docker-compose (apt-get install docker-compose)')) return;
  const broken = readFileSync('docker-compose.yml', 'utf8').replace('    restart: unless-stopped\n', '    restrat: unless-stopped\n');
  const res = await composeConfig(deployment(t, broken));
  t.not(res.code, 0);
  t.match(res.stderr, /restrat/);
});

t.test('tshub config check accepts deploy/docker/tshub.yaml', async (t) => {
  const dir = tempDir(t);
  writeFileSync(path.join(dir, 'tshub.yaml'), readFileSync('deploy/docker/tshub.yaml'));
  const res = await runCli(dir, ['config', 'check', '--config', 'tshub.yaml']);
  t.equal(res.code, 0, res.stderr);
  t.match(res.stdout, /Configuration OK/);
  // And the docker kind's options are really checked (in process: the same validation, without a
  // second CLI start): a misspelt option is refused with its path.
  const bad = parse(readFileSync('deploy/docker/tshub.yaml', 'utf8').replace('network_name:', 'network:'));
  const result = validateConfig(bad, defaultRegistry());
  t.notOk(result.ok);
  t.match(result.ok ? [] : result.errors, [/^spawner\.network: unknown option/]);
});

t.test('the Dockerfile installs every workspace and runs the command compose and Kubernetes expect', async (t) => {
  // It cannot be built here (no registry for the base image), so check what would break a build.
  const dockerfile = readFileSync('Dockerfile', 'utf8');
  const beforeInstall = dockerfile.slice(0, dockerfile.indexOf('RUN npm ci'));
  const { workspaces } = JSON.parse(readFileSync('package.json', 'utf8')) as { workspaces: string[] };
  for (const ws of workspaces) t.match(beforeInstall, `COPY ${ws}/package.json ${ws}/`, `npm ci sees workspace ${ws}`);
  t.match(dockerfile, /^FROM node:20-bookworm-slim AS build$/m);
  t.match(dockerfile, /npm prune --omit=dev/, 'development dependencies are dropped');
  t.match(dockerfile, /^USER node$/m, 'the hub runs unprivileged');
  t.match(dockerfile, /^ENTRYPOINT \["tshub"\]\nCMD \["start", "--config", "\/srv\/tshub\/tshub.yaml"\]$/m);
  const ignore = readFileSync('.dockerignore', 'utf8').split('\n').filter((l) => l && !l.startsWith('#'));
  for (const needed of ['packages', 'spawners', 'authenticators', 'migrations', 'package-lock.json', 'tsconfig.base.json']) {
    t.notOk(ignore.includes(needed), `${needed} is in the build context`);
  }
  t.ok(ignore.includes('!test/package.json'), 'the test workspace manifest is in the build context');
});
