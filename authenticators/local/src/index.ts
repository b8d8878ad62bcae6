/**
 * @tshub/authenticator-local: accounts with passwords in the hub database (`kind: local`) and the
 * anything-goes test authenticator (`kind: dummy`), and system accounts through PAM (`kind: pam`).
 */
export { localAuthenticator, WAITING_FOR_APPROVAL } from './local.js';
export type { LocalAuthConfig } from './local-config.js';
export { accountKey } from './account-book.js';
export type { AccountRecord } from './account-book.js';
export { dummyAuthenticator } from './dummy.js';
export { pamAuthenticator } from './pam.js';
export type { PamAuthConfig } from './pam.js';
export type { DummyAuthConfig } from './dummy.js';
export { checkPasswordRules, MAX_PASSWORD_LENGTH } from './password.js';
export type { PasswordRuleOptions } from './password.js';
export { COMMON_PASSWORDS } from './common-passwords.js';
export { MemoryStore } from './memory-store.js';
