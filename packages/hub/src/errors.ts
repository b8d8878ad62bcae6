import { HubError } from '@tshub/plugin-api';

export { HubError, SpawnError } from '@tshub/plugin-api';

/** 403 for requests with no valid credentials (JupyterHub 4.0.2+ wording; never 401). */
export const missingCredentials = () => new HubError(403, 'Missing or invalid credentials.');

/** 403 for a caller who lacks every scope that would allow the action. */
export const notAuthorized = (scopes: readonly string[]) =>
  new HubError(403, `Action is not authorized with current scopes; requires any of [${scopes.join(', ')}]`);

/** 404 that does not reveal whether the resource exists or is just not the caller's. */
export const noAccess = () => new HubError(404, 'No access to resources or resources not found');

export const notFound = (what: string) => new HubError(404, `${what} not found`);
export const badRequest = (message: string) => new HubError(400, message);
