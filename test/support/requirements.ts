import { existsSync } from 'node:fs';
import type { Test } from 'tap';

/** In CI (TSHUB_TEST_REQUIRE_ALL=1) a missing component fails the suite instead of skipping it. */
export const REQUIRE_ALL = process.env.TSHUB_TEST_REQUIRE_ALL === '1';

/**
 * Returns false (and skips `t`) when a real component is missing locally; in CI it fails instead.
 * `what` names the component and how to get it.
 */
export function need(t: Test, ok: boolean, what: string): boolean {
  if (ok) return true;
  if (REQUIRE_ALL) t.fail(`missing ${what} (TSHUB_TEST_REQUIRE_ALL=1)`);
  else t.comment(`SKIP: missing ${what}`);
  return false;
}

export const SINGLEUSER = '/usr/bin/jupyterhub-singleuser';
export const hasSingleuser = () => existsSync(SINGLEUSER);
export const hasIpykernel = () => existsSync('/usr/lib/python3/dist-packages/ipykernel');
export const postgresUrl = () => process.env.TSHUB_TEST_POSTGRES_URL ?? '';
export const CHROMIUM = '/usr/bin/chromium';
export const hasChromium = () => existsSync(CHROMIUM);
