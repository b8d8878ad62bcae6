import type { AuthenticatorPlugin, SpawnerPlugin } from '@tshub/plugin-api';
import { localProcessSpawner, simpleSpawner } from '@tshub/spawner-local-process';
import { dummyAuthenticator, localAuthenticator } from '@tshub/authenticator-local';

/** Short name -> plugin. Static imports: the hub ships with these kinds. */
export interface Registry {
  readonly spawners: ReadonlyMap<string, SpawnerPlugin<any>>;
  readonly authenticators: ReadonlyMap<string, AuthenticatorPlugin<any>>;
}

const spawnerAliases: Record<string, string> = { localprocess: 'local-process', 'simple-local-process': 'simple' };

export function defaultRegistry(extra: Partial<{ spawners: SpawnerPlugin<any>[]; authenticators: AuthenticatorPlugin<any>[] }> = {}): Registry {
  const spawners = new Map<string, SpawnerPlugin<any>>();
  for (const p of [simpleSpawner, localProcessSpawner, ...(extra.spawners ?? [])]) spawners.set(p.kind, p);
  for (const [alias, kind] of Object.entries(spawnerAliases)) {
    const p = spawners.get(kind);
    if (p) spawners.set(alias, p);
  }
  const authenticators = new Map<string, AuthenticatorPlugin<any>>();
  for (const p of [localAuthenticator, dummyAuthenticator, ...(extra.authenticators ?? [])]) authenticators.set(p.kind, p);
  return { spawners, authenticators };
}
