import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { statSync } from 'node:fs';
import { promisify } from 'node:util';
import t from 'tap';
import { BrowserClient } from './support/browser-client.js';
import { dockerTestRun } from './support/docker-cleanup.js';
import { ensureTestImage, needDocker } from './support/docker-test-image.js';
import { startDockerTestHub } from './support/docker-test-hub.js';
import { need } from './support/requirements.js';

const run = promisify(execFile);

/**
 * Acceptance 5 (SystemUserSpawner half) of issue #7: the container runs as the host account's
 * uid/gid with the host home mounted at the same path, so a file the student writes through the
 * contents API is owned by that uid on the host (the NFS-homes setup of a large course).
 */
t.test('SystemUserSpawner: files in the host home belong to the host user', async (t) => {
  if (!(await needDocker(t))) return;
  if (!need(t, process.geteuid?.() === 0, 'root (to create a host user with useradd)')) return;
  await ensureTestImage();
  const name = `tshubsu${randomBytes(3).toString('hex')}`;
  await run('useradd', ['--create-home', '--shell', '/bin/sh', name]);
  t.teardown(() => run('userdel', ['--remove', name]).catch(() => undefined));
  const uid = Number((await run('id', ['-u', name])).stdout.trim());
  const gid = Number((await run('id', ['-g', name])).stdout.trim());
  const home = `/home/${name}`;

  const dockerRun = dockerTestRun(t);
  const th = await startDockerTestHub(t, dockerRun, { kind: 'system-user-docker' });
  const student = new BrowserClient(th.publicUrl);
  const landed = await student.login(name);
  t.equal(landed.status, 200, `${name} lands in the server (${landed.url})`);
  t.match(new URL(landed.url).pathname, new RegExp(`^/user/${name}/`));

  const [container] = await dockerRun.containers();
  const info = await dockerRun.docker.getContainer(container!.Id).inspect();
  t.equal(info.Config.User, `${uid}:${gid}`, 'the container runs as the host uid:gid');
  t.ok(info.HostConfig.Binds?.includes(`${home}:${home}:rw`), 'with the host home mounted at the same path');
  t.same(await dockerRun.volumes(), [], 'and no per-user volume: the home is the storage');

  const xsrf = await student.cookieValue('_xsrf', `/user/${name}/`);
  const put = await student.request(`/user/${name}/api/contents/owned.txt`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json', ...(xsrf ? { 'x-xsrftoken': xsrf } : {}) },
    body: JSON.stringify({ type: 'file', format: 'text', content: 'mine' }),
  });
  t.equal(put.status, 201, 'file written through the contents API');
  const st = statSync(`${home}/owned.txt`);
  t.equal(st.uid, uid, `on the host the file is owned by ${name}'s uid ${uid}`);
  t.equal(st.gid, gid, `and group ${gid}`);
  t.comment(`host file ${home}/owned.txt: uid ${st.uid}, gid ${st.gid}`);

  const missing = new BrowserClient(th.publicUrl);
  const page = await missing.login('nosuchhostuser');
  t.match(page.text, /no account named (&quot;|")nosuchhostuser(&quot;|") on the host/, 'a user without a host account gets a clear spawn error');
});
