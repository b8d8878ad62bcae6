import type { PluginStore } from '@tshub/plugin-api';

/**
 * A PluginStore whose backing store is attached after the authenticator was created: the hub creates
 * the authenticator and runs the start-up checks (validateConfig, "nobody could log in") before opening
 * the database, so a bad configuration fails at once. Using the store during those checks is an error.
 */
export function lateStore(backing: () => PluginStore | null): PluginStore {
  const open = (): PluginStore => {
    const store = backing();
    if (!store) throw new Error('the plugin store is not available during start-up checks (validateConfig); use it from authenticate and later');
    return store;
  };
  return {
    get: (key) => open().get(key),
    set: (key, value) => open().set(key, value),
    delete: (key) => open().delete(key),
    keys: (prefix) => open().keys(prefix),
  };
}
