import type { AuthenticatorPlugin, SpawnerPlugin } from '@tshub/plugin-api';
import { localProcessSpawner, simpleSpawner } from '@tshub/spawner-local-process';
import { dummyAuthenticator, localAuthenticator, pamAuthenticator } from '@tshub/authenticator-local';
import { dockerSpawner, systemUserDockerSpawner } from '@tshub/spawner-docker';
import { swarmSpawner } from '@tshub/spawner-swarm';
import { kubernetesSpawner } from '@tshub/spawner-kubernetes';
import { oauthAuthenticator } from '@tshub/authenticator-oauth';
import { githubAuthenticator } from '@tshub/authenticator-github';
import { casAuthenticator } from '@tshub/authenticator-cas';

/** Short name -> plugin. Static imports: the hub ships with these kinds. */
export interface Registry {
  readonly spawners: ReadonlyMap<string, SpawnerPlugin<any>>;
  readonly authenticators: ReadonlyMap<string, AuthenticatorPlugin<any>>;
}

const spawnerAliases: Record<string, string> = {
  localprocess: 'local-process', 'simple-local-process': 'simple',
  dockerspawner: 'docker', systemuserspawner: 'system-user-docker', swarmspawner: 'swarm', kubespawner: 'kubernetes',
};
const authenticatorAliases: Record<string, string> = { oidc: 'oauth', 'generic-oauth': 'oauth', genericoauth: 'oauth' };

export function defaultRegistry(extra: Partial<{ spawners: SpawnerPlugin<any>[]; authenticators: AuthenticatorPlugin<any>[] }> = {}): Registry {
  const spawners = new Map<string, SpawnerPlugin<any>>();
  for (const p of [simpleSpawner, localProcessSpawner, dockerSpawner, systemUserDockerSpawner, swarmSpawner, kubernetesSpawner, ...(extra.spawners ?? [])]) {
    spawners.set(p.kind, p);
  }
  for (const [alias, kind] of Object.entries(spawnerAliases)) {
    const p = spawners.get(kind);
    if (p) spawners.set(alias, p);
  }
  const authenticators = new Map<string, AuthenticatorPlugin<any>>();
  for (const p of [localAuthenticator, dummyAuthenticator, pamAuthenticator, oauthAuthenticator, githubAuthenticator, casAuthenticator, ...(extra.authenticators ?? [])]) {
    authenticators.set(p.kind, p);
  }
  for (const [alias, kind] of Object.entries(authenticatorAliases)) {
    const p = authenticators.get(kind);
    if (p) authenticators.set(alias, p);
  }
  return { spawners, authenticators };
}
