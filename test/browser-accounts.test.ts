import t from 'tap';
import { chromium, type Browser, type Page } from 'playwright-core';
import { CHROMIUM, hasChromium, need } from './support/requirements.js';
import { startTestHub, type TestHub } from './support/test-hub.js';

/**
 * The account pages in a real browser (Debian's chromium through playwright-core), their scripts
 * running: the sign-up form's "passwords do not match" check stops the submission in the browser,
 * the pending notice, the admin's Approve button on /hub/authorize, then the new account's login and
 * its password change.
 */

const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const ADMIN_PW = 'teacher-board-2026';

/** A page in a context of its own (own cookies) that records uncaught errors and console errors. */
async function freshPage(browser: Browser, errors: string[]): Promise<Page> {
  const page = await (await browser.newContext()).newPage();
  page.on('pageerror', (e) => errors.push(`${page.url()}: uncaught ${e.message}`));
  page.on('console', (m) => {
    // HTTP error responses (a refused login's 403) are expected here; scripts must not fail.
    if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) errors.push(`${page.url()}: ${m.text()}`);
  });
  return page;
}

async function signIn(th: TestHub, page: Page, username: string, password: string): Promise<void> {
  await page.goto(`${th.publicUrl}/hub/login?next=${encodeURIComponent('/hub/home')}`);
  await page.fill('#username_input', username);
  await page.fill('#password_input', password);
  await Promise.all([page.waitForLoadState('load'), page.click('#login_submit')]);
}

t.test('sign-up, approval and password change in a real browser', async (t) => {
  if (!need(t, hasChromium(), 'chromium (apt-get install chromium; scripts/install-system-deps.sh)')) return;
  const th = await startTestHub(t, {
    config: { hub: { redirect_to_server: false }, authenticator: { kind: 'local', allow_all: false, admin_users: ['teacher'], enable_signup: true } },
  });
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
  t.teardown(() => browser.close());
  const errors: string[] = [];

  // The admin's password, through the hub's one-time set-up link.
  const admin = await freshPage(browser, errors);
  await admin.goto(`${th.publicUrl}/hub/setup-admin?token=${th.hub.adminSetup.open('teacher')}`);
  await admin.fill('#password_input', ADMIN_PW);
  await admin.fill('#password_confirm_input', ADMIN_PW);
  await Promise.all([admin.waitForURL(/\/hub\/home$/), admin.click('#setup_submit')]);

  const student = await freshPage(browser, errors);
  await student.goto(`${th.publicUrl}/hub/signup`);
  t.equal(await student.title(), 'Create an account · tshub', 'the sign-up page opens');
  await student.fill('#username_input', 'zoe');
  await student.fill('#password_input', 'zoe-secret-one');
  await student.fill('#password_confirm_input', 'zoe-secret-two');
  await student.click('#signup_submit');
  t.equal(await student.$eval('#password_confirm_input', (el) => (el as HTMLInputElement).validationMessage), 'The passwords do not match.', 'the page flags the mismatch');
  t.match(new URL(student.url()).pathname, /\/hub\/signup$/, 'the browser did not submit mismatched passwords');
  t.equal((await student.textContent('#signup-error'))?.trim(), '', 'and the server was not asked');
  await student.fill('#password_confirm_input', 'zoe-secret-one');
  await Promise.all([student.waitForLoadState('load'), student.click('#signup_submit')]);
  await student.locator('#signup-result').waitFor();
  t.match(await student.textContent('#signup-result'), /waiting for approval/, 'the account waits for approval');

  await signIn(th, student, 'zoe', 'zoe-secret-one');
  t.match(await student.textContent('#login-error'), /waiting for approval by an administrator/, 'the login form says why');

  await admin.goto(`${th.publicUrl}/hub/authorize`);
  await Promise.all([admin.waitForLoadState('load'), admin.click('button[aria-label="Approve zoe"]')]);
  t.match(await admin.textContent('#authorize-message'), /Approved zoe/, 'the Approve button worked');
  t.ok(await admin.locator('#no-pending').isVisible(), 'nobody is waiting any more');

  await signIn(th, student, 'zoe', 'zoe-secret-one');
  await student.waitForURL(/\/hub\/home$/);
  t.pass('zoe signs in after the approval');
  await student.goto(`${th.publicUrl}/hub/change-password`);
  await student.fill('#old_password_input', 'zoe-secret-one');
  await student.fill('#new_password_input', 'zoe-secret-three');
  await student.fill('#new_password_confirm_input', 'zoe-secret-three');
  await Promise.all([student.waitForLoadState('load'), student.click('#change_password_submit')]);
  t.match(await student.textContent('#change-password-result'), /Your password was changed/, 'the password change went through');

  t.same(errors, [], 'no script errors on any page');
});
