/** @tshub/authenticator-cas: login through a CAS 2.0 / 3.0 server (`kind: cas`). */
export { casAuthenticator } from './cas.js';
export type { CasConfig } from './config.js';
export { parseServiceResponse } from './service-response.js';
export type { CasAttributes, ServiceResponse } from './service-response.js';
