import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t, { type Test } from 'tap';
import { chromium, type Browser, type Page } from 'playwright-core';
import { CHROMIUM, hasChromium, hasSingleuser, need, SINGLEUSER } from './support/requirements.js';
import { startTestHub, type TestHub } from './support/test-hub.js';

/**
 * The hub's pages in a real browser (Debian's chromium driven by playwright-core), with their
 * JavaScript running: login form, the live spawn-pending page fed by the EventSource progress stream,
 * its redirect into the classic notebook, the home page's "Stop My Server", and spawn failures both
 * as the server-rendered error page and as the live page's failure box, with a working "Try again".
 */

const asRoot = process.geteuid?.() === 0;
const SCREENSHOT = '/tmp/spawn-pending.png';
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
/** A server that takes a few seconds before it starts, so the progress page is on screen for a while. */
const SLOW_SINGLEUSER = `sleep 3\nexec ${SINGLEUSER} "$@"`;

/** A temp dir of the test's own, removed with it. */
function tempDir(t: Test): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'tshub-browser-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Writes the executable shell script `file` with `body`. */
function writeScript(file: string, body: string): void {
  writeFileSync(file, `#!/bin/sh\n${body}\n`, { mode: 0o755 });
}

/** A hub whose server command is `file` (plus --allow-root when the test runs as root). */
function hubRunning(t: Test, file: string): Promise<TestHub> {
  return startTestHub(t, { config: { spawner: { cmd: [file], args: asRoot ? ['--allow-root'] : [] } } });
}

interface Watched {
  page: Page;
  /** Uncaught page exceptions and console errors, with the URL they happened on. */
  errors: string[];
  /** Requests the pages made that got an HTTP error, as "<status> <path>". */
  failedLoads: string[];
  /** What the spawn-pending page showed, in order: progress values and log lines. */
  progress: number[];
  log: string[];
}

/**
 * A page in a context of its own (own cookies) that records JS errors and, on spawn-pending pages,
 * every change of the <progress> value and every new log line (reported to the test as they happen,
 * so nothing is lost when the page navigates away).
 */
async function watchedPage(browser: Browser): Promise<Watched> {
  const context = await browser.newContext({ viewport: { width: 1000, height: 700 } });
  const page = await context.newPage();
  const w: Watched = { page, errors: [], failedLoads: [], progress: [], log: [] };
  page.on('pageerror', (e) => w.errors.push(`${page.url()}: uncaught ${e.message}`));
  page.on('console', (m) => {
    if (m.type() !== 'error') return;
    // Chromium logs each HTTP error response (the favicon included) as one; those go to failedLoads.
    const status = /^Failed to load resource: the server responded with a status of (\d+)/.exec(m.text())?.[1];
    if (status) w.failedLoads.push(`${status} ${new URL(m.location().url).pathname}`);
    else w.errors.push(`${page.url()}: console.error ${m.text()}`);
  });
  await context.exposeFunction('tshubProgress', (value: number) => w.progress.push(value));
  await context.exposeFunction('tshubLog', (line: string) => w.log.push(line));
  await context.addInitScript(() => {
    document.addEventListener('DOMContentLoaded', () => {
      const bar = document.getElementById('progress-bar') as HTMLProgressElement | null;
      const log = document.getElementById('progress-log');
      if (!bar || !log) return;
      const report = window as unknown as { tshubProgress(v: number): void; tshubLog(l: string): void };
      new MutationObserver(() => report.tshubProgress(bar.value)).observe(bar, { attributes: true, attributeFilter: ['value'] });
      new MutationObserver((records) => {
        for (const r of records) r.addedNodes.forEach((n) => report.tshubLog(n.textContent ?? ''));
      }).observe(log, { childList: true });
    });
  });
  return w;
}

/** Opens the class URL, signs in through the form as `user`, and returns once the form is submitted. */
async function signIn(t: Test, th: TestHub, page: Page, user: string): Promise<void> {
  await page.goto(`${th.publicUrl}/`);
  t.match(new URL(page.url()).pathname, /^\/hub\/login$/, 'the class URL shows the login page');
  t.equal(await page.title(), 'Sign in · tshub', 'titled "Sign in"');
  await page.fill('#username_input', user);
  await page.click('#login_submit');
}

/** Alice's server as the home page's own script would ask for it (cookie + X-XSRFToken). */
function apiUser(page: Page): Promise<{ server: string | null; pending: string | null; servers: object }> {
  return page.evaluate(async () => {
    const root = document.getElementById('home')!;
    const res = await fetch(root.dataset.apiUserUrl!, { headers: { 'X-XSRFToken': root.dataset.xsrf!, Accept: 'application/json' } });
    return res.json();
  });
}

/** Waits for the live spawn-pending page to take alice to her classic notebook file list. */
async function reachesTree(t: Test, page: Page): Promise<void> {
  await page.waitForURL(/\/user\/alice\/tree/, { timeout: 60_000 });
  await page.locator('#notebook_list').waitFor({ timeout: 20_000 });
  t.pass(`the page took her to her server's file list (${new URL(page.url()).pathname})`);
  t.match(await page.title(), /Home Page - Select or create a notebook/, 'the classic notebook\'s tree page, by its title');
  t.ok(await page.locator('#tabs a[href="#notebooks"]').isVisible(), 'with its Files tab');
}

/** Resources the hub does not serve yet (JupyterHub does): the browser's favicon, and the logo singleuser pages show. */
const KNOWN_MISSING = ['404 /hub/favicon.ico', '404 /hub/logo'];

/** No JS errors, and no failed requests other than `expected` ones. */
function assertCleanPages(t: Test, w: Watched, expected: string[] = []): void {
  t.same(w.errors, [], 'no JavaScript errors on any page');
  t.same(w.failedLoads.filter((l) => !expected.includes(l) && !KNOWN_MISSING.includes(l)), [], 'every other request the pages made succeeded');
  const missing = w.failedLoads.filter((l) => KNOWN_MISSING.includes(l));
  t.same(missing, [], `the hub serves /hub/favicon.ico and /hub/logo (failed: ${missing.join(', ') || 'none'})`);
}

t.test('hub pages in a real browser', async (t) => {
  if (!need(t, hasChromium(), 'chromium (apt-get install chromium; scripts/install-system-deps.sh)')) return;
  if (!need(t, hasSingleuser(), 'jupyterhub-singleuser (apt-get install jupyterhub python3-notebook)')) return;
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
  t.teardown(() => browser.close());

  t.test('login, live progress, the notebook, and "Stop My Server"', async (t) => {
    const dir = tempDir(t);
    writeScript(path.join(dir, 'server.sh'), SLOW_SINGLEUSER);
    const th = await hubRunning(t, path.join(dir, 'server.sh'));
    const w = await watchedPage(browser);
    const { page } = w;

    await signIn(t, th, page, 'alice');
    await page.waitForURL(/\/hub\/spawn-pending\/alice$/, { timeout: 20_000 });
    t.pass('the browser reaches /hub/spawn-pending/alice');
    t.equal(await page.title(), 'Starting server · tshub');
    t.equal(await page.textContent('#pending-heading'), 'Your server is starting up');
    await page.waitForFunction(() => (document.getElementById('progress-bar') as HTMLProgressElement).value >= 80, null, { timeout: 10_000 });
    t.notOk(await page.isVisible('#failed'), 'no failure box while starting');
    t.ok(await page.isVisible('#progress-log li'), 'the event log shows messages');
    await page.waitForTimeout(400); // let the bar's 0.3 s width transition finish
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    t.match(new URL(page.url()).pathname, /^\/hub\/spawn-pending\//, 'the screenshot is of the page still waiting');
    t.comment(`screenshot of the page mid-progress: ${SCREENSHOT} (progress ${w.progress.join(' → ')})`);

    await reachesTree(t, page);
    t.ok(w.progress.length >= 3, `the progress bar moved several times (${w.progress.join(' → ')})`);
    t.ok(w.progress.every((v, i) => i === 0 || v >= w.progress[i - 1]!), 'never backwards');
    t.ok(new Set(w.progress).size >= 3, 'through at least three different values');
    t.equal(w.progress.at(-1), 100, 'ending at 100');
    t.ok(w.log[0]?.endsWith('Server requested'), `the log starts with "Server requested" (${JSON.stringify(w.log)})`);
    t.ok(w.log.at(-1)?.endsWith('Server ready at /user/alice/'), 'and ends with "Server ready at /user/alice/"');
    t.ok(w.log.some((l) => l.endsWith('waiting for it to answer...')), 'with the waiting step between');

    await page.goto(`${th.publicUrl}/hub/home`);
    t.equal(await page.textContent('.status'), 'Running', 'the home page shows the server running');
    t.equal(await page.textContent('#start'), 'My Server');
    const stop = page.locator('#stop');
    t.ok(await stop.isVisible(), 'and its script shows "Stop My Server"');
    await Promise.all([page.waitForEvent('load'), stop.click()]);
    await page.locator('#start', { hasText: 'Start My Server' }).waitFor({ timeout: 20_000 });
    t.pass('after "Stop My Server" the page reloads and offers "Start My Server"');
    t.equal(await page.textContent('.status'), 'Stopped');
    t.equal(await page.locator('#stop').count(), 0, 'no stop button any more');
    t.equal([...th.hub.ctx.servers.all].length, 0, 'the hub has no server runtime left');
    const user = await apiUser(page);
    t.match(user, { server: null, pending: null }, 'the hub API shows no server, none pending');
    t.same(user.servers, {}, 'and no entry in servers');
    assertCleanPages(t, w);
  });

  t.test('a failed spawn: error page, live failure box, and "Try again"', async (t) => {
    const dir = tempDir(t);
    const cmd = path.join(dir, 'not-there-yet.sh');
    const th = await hubRunning(t, cmd);
    const w = await watchedPage(browser);
    const { page } = w;

    // 1. The command does not exist: the spawn fails at once; the hub renders the error page.
    const failed = page.waitForResponse((r) => new URL(r.url()).pathname === '/hub/spawn-pending/alice');
    await signIn(t, th, page, 'alice');
    t.equal((await failed).status(), 500, 'spawn-pending answers 500');
    await page.waitForLoadState();
    t.equal(new URL(page.url()).pathname, '/hub/spawn-pending/alice', 'the browser is left on spawn-pending');
    t.equal(await page.textContent('h1'), 'Server failed to start (error 500)', 'the heading says what failed');
    t.equal(await page.textContent('.alert .lines'), `Spawn failed: command '${cmd}' not found`, 'the page shows the failure message');
    const tryAgain = page.getByRole('link', { name: 'Try again' });
    t.equal(await tryAgain.getAttribute('href'), '/hub/spawn/alice', '"Try again" links to the spawn page');
    t.equal(await page.locator('#main').getByRole('link', { name: 'Home' }).getAttribute('href'), '/hub/home', 'with a link home');

    // 2. Now the command exists but dies after a while: the live page's script shows the failure.
    writeScript(cmd, 'sleep 3\necho "crashing on purpose" >&2\nexit 1');
    const spawnRequested = page.waitForRequest((r) => new URL(r.url()).pathname === '/hub/spawn/alice');
    await tryAgain.click();
    await spawnRequested;
    await page.locator('#failed').waitFor({ timeout: 20_000 });
    t.equal(new URL(page.url()).pathname, '/hub/spawn-pending/alice', 'via /hub/spawn/alice back to spawn-pending');
    t.pass('"Try again" started a new spawn, and the live page shows the failure box');
    t.equal(await page.textContent('#pending-heading'), 'Server failed to start');
    t.notOk(await page.isVisible('#progress-section'), 'the progress bar is hidden');
    const message = (await page.textContent('#failed-message'))!;
    t.match(message, /^Spawn failed: The server exited before it was ready\./, `the message says why (${JSON.stringify(message)})`);
    t.match(message, 'crashing on purpose', 'with the server\'s last output');
    const liveTryAgain = page.locator('#try-again');
    t.equal(await liveTryAgain.getAttribute('href'), '/hub/spawn/alice', 'its "Try again" links to the spawn page');
    t.ok(await liveTryAgain.evaluate((a) => a === document.activeElement), 'and has the focus');

    // 3. Now the command is a working server: "Try again" ends in the notebook.
    writeScript(cmd, SLOW_SINGLEUSER);
    w.progress.length = 0;
    await liveTryAgain.click();
    await reachesTree(t, page);
    t.equal(w.progress.at(-1), 100, 'through a progress bar that reached 100');
    assertCleanPages(t, w, ['500 /hub/spawn-pending/alice']);
  });
});
