import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t, { type Test } from 'tap';
import { BrowserClient, type Page } from './support/browser-client.js';
import { hasSingleuser, need, SINGLEUSER } from './support/requirements.js';
import { startTestHub, type TestHub } from './support/test-hub.js';

/**
 * Acceptance: a spawn failure (command not found, a server that dies while starting) and a spawn
 * timeout each end with a clear message on the spawn-pending page and in the API, leave nothing
 * running, and the user can start again. Every case runs a real hub and proxy.
 */

const TOKEN = randomBytes(16).toString('hex');
const asRoot = process.geteuid?.() === 0;

/** A hub whose `spawner:` section is `spawner`, with a pre-shared API token for alice. */
function hubWith(t: Test, spawner: Record<string, unknown>, hub: Record<string, unknown> = {}): Promise<TestHub> {
  return startTestHub(t, { config: { hub: { api_tokens: { [TOKEN]: 'alice' }, ...hub }, spawner } });
}

/** Calls the hub REST API through the proxy as alice's token holder. */
async function api(th: TestHub, method: string, route: string): Promise<{ status: number; body: any }> {
  const res = await fetch(`${th.publicUrl}/hub/api${route}`, { method, headers: { authorization: `token ${TOKEN}` } });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

interface ProgressEvent { progress: number; message: string; failed?: boolean; ready?: boolean }

/** Reads alice's progress stream (text/event-stream) until the hub ends it. */
async function progressEvents(th: TestHub): Promise<{ status: number; contentType: string | null; events: ProgressEvent[] }> {
  const res = await fetch(`${th.publicUrl}/hub/api/users/alice/server/progress`, {
    headers: { authorization: `token ${TOKEN}`, accept: 'text/event-stream' },
    signal: AbortSignal.timeout(30_000),
  });
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  let raw = '';
  for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) raw += chunk.value;
  const events = raw.split(/\n\n/).map((block) => block.split('\n').filter((l) => l.startsWith('data:')).map((l) => l.slice(5).trim()).join('\n'))
    .filter(Boolean).map((data) => JSON.parse(data) as ProgressEvent);
  return { status: res.status, contentType: res.headers.get('content-type'), events };
}

/** The text a person reads on a page: tags dropped, entities decoded, whitespace collapsed. */
function textOf(page: Page): string {
  return page.text.replace(/<script[\s\S]*?<\/script>/g, ' ').replace(/<[^>]*>/g, ' ')
    .replace(/&#39;|&#x27;/g, "'").replace(/&quot;/g, '"').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&')
    .replace(/\s+/g, ' ');
}

/** The href of the link whose text is `label`, or undefined. */
function linkTo(page: Page, label: string): string | undefined {
  for (const m of page.text.matchAll(/<a\b[^>]*href="([^"]*)"[^>]*>([\s\S]*?)<\/a>/g)) {
    if (m[2]!.replace(/<[^>]*>/g, '').trim() === label) return m[1]!.replace(/&amp;/g, '&');
  }
  return undefined;
}

/** An executable shell script in a temp dir of its own (removed with the test); `$DIR` is that dir. */
function script(t: Test, body: string): { file: string; dir: string } {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'tshub-spawn-failure-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'server.sh');
  writeFileSync(file, `#!/bin/sh\nDIR='${dir}'\n${body}\n`, { mode: 0o755 });
  return { file, dir };
}

/** Waits up to `ms` for the process `pid` to be gone; true if it is. */
async function processGone(pid: number, ms = 5000): Promise<boolean> {
  for (const deadline = Date.now() + ms; ; await new Promise((r) => setTimeout(r, 50))) {
    try {
      process.kill(pid, 0);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ESRCH') return true;
      throw err;
    }
    if (Date.now() > deadline) return false;
  }
}

/** Checks the page a student is left on after a failed spawn. */
function assertFailurePage(t: Test, client: BrowserClient, page: Page, expected: (string | RegExp)[]): void {
  t.equal(page.status, 500, `the student ends on an error page (hops: ${client.hops.join(' | ')})`);
  t.equal(new URL(page.url).pathname, '/hub/spawn-pending/alice', 'which is the spawn-pending page');
  const redirects = client.hops.filter((h) => h.startsWith('3')).length;
  t.ok(redirects <= 12, `no redirect loop (${redirects} redirects; the rest is the pending page being re-read)`);
  const text = textOf(page);
  t.match(text, 'Spawn failed:', 'the page says the spawn failed');
  for (const e of expected) t.match(text, e, `the page says ${String(e)}`);
  t.equal(linkTo(page, 'Try again'), '/hub/spawn/alice', 'with a "Try again" link to the spawn page');
  t.equal(linkTo(page, 'Home'), '/hub/home', 'and a link home');
}

/** The API view of alice: no server running, none pending. */
async function assertNoServer(t: Test, th: TestHub): Promise<void> {
  const user = await api(th, 'GET', '/users/alice');
  t.equal(user.status, 200, 'GET /hub/api/users/alice');
  t.match(user.body, { name: 'alice', server: null, pending: null }, 'the API shows no server and nothing pending');
  t.same(user.body.servers, {}, 'and no entry in servers');
}

t.test('command not found', async (t) => {
  const cmd = '/nonexistent/jupyterhub-singleuser-nope';
  const th = await hubWith(t, { cmd: [cmd] });
  const message = `command '${cmd}' not found`;

  const alice = new BrowserClient(th.publicUrl);
  const page = await alice.login('alice');
  assertFailurePage(t, alice, page, [message]);
  await assertNoServer(t, th);

  const home = await alice.get('/hub/home');
  t.equal(home.status, 200, 'the home page after the failure');
  const homeText = textOf(home);
  t.match(homeText, 'Failed to start', 'shows the server as failed');
  t.match(homeText, `The last attempt to start your server failed: ${message}`, 'with the message');
  t.notMatch(homeText, /Starting…|view progress/, 'not as starting');
  t.equal(linkTo(home, 'Start My Server'), '/hub/spawn', 'and offers a start button');

  const post = await api(th, 'POST', '/users/alice/server');
  t.equal(post.status, 500, 'POST /hub/api/users/alice/server fails again, with an error status');
  t.match(post.body, { status: 500, message: `Spawn failed: ${message}` }, 'and a JSON {status, message} with the reason');
  await assertNoServer(t, th);
});

t.test('a server that dies while starting: the progress stream ends with its last output', async (t) => {
  const th = await hubWith(t, { cmd: ['/bin/sh', '-c', 'echo starting up; sleep 2; echo boom >&2; exit 3'] }, { slow_spawn_timeout: 0.5 });
  const post = await api(th, 'POST', '/users/alice/server');
  t.equal(post.status, 202, 'POST answers 202 while the spawn is still pending');
  t.match((await api(th, 'GET', '/users/alice')).body, { pending: 'spawn' }, 'the API shows the spawn pending');

  const { status, contentType, events } = await progressEvents(th);
  t.equal(status, 200, 'the progress stream opens');
  t.match(contentType, /^text\/event-stream/, 'as text/event-stream');
  t.same(events[0], { progress: 0, message: 'Server requested' }, 'the first event is "Server requested"');
  const last = events.at(-1)!;
  t.match(last, { progress: 100, failed: true }, 'the stream ends with a failed event');
  t.match(last.message, /^Spawn failed: The server exited before it was ready\./, 'saying the server exited');
  t.match(last.message, /Last output of the server:\nstarting up\nboom/, 'with the server\'s last output');
  t.notOk(events.slice(0, -1).some((e) => e.failed || e.ready), 'no earlier event claims an end');
  await assertNoServer(t, th);

  const again = await progressEvents(th);
  t.same(again.events.at(-1), last, 'opening the stream after the failure replays the failure');
  t.equal((await api(th, 'POST', '/users/alice/server')).status, 202, 'a new start is accepted (not stuck)');
});

t.test('spawn timeout: the process starts but never answers HTTP', async (t) => {
  const s = script(t, 'echo $$ > "$DIR/pid"\nexec sleep 600');
  const th = await hubWith(t, { cmd: [s.file], http_timeout: 1 });
  const pidOf = () => Number(readFileSync(path.join(s.dir, 'pid'), 'utf8'));
  const expected = /Timeout: the server started but did not answer within 1 seconds?\./;

  const alice = new BrowserClient(th.publicUrl);
  const page = await alice.login('alice');
  assertFailurePage(t, alice, page, [expected]);
  const pid = pidOf();
  t.ok(await processGone(pid), `the server process (pid ${pid}) is stopped`);
  await assertNoServer(t, th);

  const post = await api(th, 'POST', '/users/alice/server');
  t.equal(post.status, 500, 'through the API the start fails with an error status');
  t.match(post.body, { status: 500, message: expected }, 'and the same message');
  t.not(pidOf(), pid, 'it was a new process');
  t.ok(await processGone(pidOf(), 0), 'which is stopped by the time the API answers');
  await assertNoServer(t, th);
});

/** A server command whose first run does `firstRun` (and fails); later runs are the real jupyterhub-singleuser. */
function failsOnceThenSingleuser(t: Test, firstRun: string): Record<string, unknown> {
  const s = script(t, `if [ ! -e "$DIR/ran-once" ]; then\n  touch "$DIR/ran-once"\n  ${firstRun}\nfi\nexec ${SINGLEUSER} "$@"`);
  return { cmd: [s.file], args: asRoot ? ['--allow-root'] : [] };
}

/** Follows the failure page's "Try again" link and checks alice reaches her running server. */
async function assertTryAgainWorks(t: Test, th: TestHub, alice: BrowserClient, failed: Page, extra: { todo?: string } = {}): Promise<void> {
  alice.hops.length = 0;
  const landed = await alice.get(linkTo(failed, 'Try again')!);
  t.equal(landed.status, 200, `"Try again" ends on a page with 200 (hops: ${alice.hops.join(' | ')})`, extra);
  t.match(new URL(landed.url).pathname, /^\/user\/alice\//, 'in alice\'s own server', extra);
  const status = await alice.request('/user/alice/api/status');
  t.equal(status.status, 200, '/user/alice/api/status through the proxy', extra);
  t.match(status.text, /"kernels"/, 'is the server\'s JSON', extra);
  t.match((await api(th, 'GET', '/users/alice')).body, { server: '/user/alice/', pending: null }, 'the API shows the server running', extra);
}

t.test('the student can start again after a failure', async (t) => {
  if (!need(t, hasSingleuser(), 'jupyterhub-singleuser (apt-get install jupyterhub python3-notebook)')) return;
  const th = await hubWith(t, failsOnceThenSingleuser(t, 'echo "first run: crashing on purpose" >&2; exit 1'));

  const alice = new BrowserClient(th.publicUrl);
  const failed = await alice.login('alice');
  assertFailurePage(t, alice, failed, ['The server exited before it was ready.', 'first run: crashing on purpose']);
  await assertTryAgainWorks(t, th, alice, failed);

  const home = await alice.get('/hub/home');
  t.notMatch(textOf(home), 'The last attempt to start your server failed', 'the home page no longer shows the old failure');
  t.equal(linkTo(home, 'My Server'), '/user/alice/', 'and links to the running server');
});

t.test('"Try again" at once, while the failed server is still being stopped', async (t) => {
  if (!need(t, hasSingleuser(), 'jupyterhub-singleuser (apt-get install jupyterhub python3-notebook)')) return;
  // The first run ignores SIGTERM, so stopping it takes the hub's full grace second before SIGKILL.
  // http_timeout leaves the real server of the second run time to come up on a busy machine.
  const th = await hubWith(t, { ...failsOnceThenSingleuser(t, "trap '' TERM; exec sleep 600"), http_timeout: 4 });
  const alice = new BrowserClient(th.publicUrl);
  const failed = await alice.login('alice');
  assertFailurePage(t, alice, failed, [/did not answer within 4 seconds\./]);
  // A retry during the cleanup of the failed start waits for it, then starts afresh with new credentials.
  await assertTryAgainWorks(t, th, alice, failed);
});
