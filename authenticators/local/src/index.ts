/**
 * @tshub/authenticator-local: accounts with passwords in the hub database (`kind: local`) and the
 * anything-goes test authenticator (`kind: dummy`).
 */
export { localAuthenticator, accountKey } from './local.js';
export type { LocalAuthConfig, AccountRecord } from './local.js';
export { dummyAuthenticator } from './dummy.js';
export type { DummyAuthConfig } from './dummy.js';
export { checkPasswordRules, MAX_PASSWORD_LENGTH } from './password.js';
export { MemoryStore } from './memory-store.js';
