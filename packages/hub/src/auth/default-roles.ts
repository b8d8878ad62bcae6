import { ADMIN_SCOPES } from './scopes.js';

export interface RoleSpec {
  name: string;
  description?: string;
  scopes?: string[];
  users?: string[];
  groups?: string[];
  services?: string[];
}

/** JupyterHub's default roles (contract section 5). */
export const DEFAULT_ROLES: readonly Required<Pick<RoleSpec, 'name' | 'description' | 'scopes'>>[] = [
  { name: 'user', description: 'Standard user privileges', scopes: ['self'] },
  { name: 'admin', description: 'Elevated privileges (can do anything)', scopes: ADMIN_SCOPES },
  { name: 'server', description: 'Post activity only', scopes: ['users:activity!user', 'access:servers!server'] },
  { name: 'token', description: 'Token with same permissions as its owner', scopes: ['inherit'] },
];
