import type { JsonValue, PluginStore } from '@tshub/plugin-api';

/**
 * A {@link PluginStore} kept in a Map, for tests and for running the authenticators without a database.
 * Values are deep-copied in and out, as a database round trip would, so callers cannot mutate stored
 * data by holding on to an object.
 */
export class MemoryStore implements PluginStore {
  readonly #data = new Map<string, string>();

  async get(key: string): Promise<JsonValue | undefined> {
    const raw = this.#data.get(key);
    return raw === undefined ? undefined : (JSON.parse(raw) as JsonValue);
  }

  async set(key: string, value: JsonValue): Promise<void> {
    this.#data.set(key, JSON.stringify(value));
  }

  async delete(key: string): Promise<void> {
    this.#data.delete(key);
  }

  async keys(prefix = ''): Promise<string[]> {
    return [...this.#data.keys()].filter((key) => key.startsWith(prefix)).sort();
  }
}
