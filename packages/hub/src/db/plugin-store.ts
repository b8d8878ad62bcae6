import type { Kysely } from 'kysely';
import type { JsonValue, PluginStore } from '@tshub/plugin-api';
import type { Database } from './schema.js';

/** A PluginStore over the plugin_data table, namespaced by plugin kind. */
export function pluginStore(db: Kysely<Database>, plugin: string): PluginStore {
  return {
    async get(key) {
      const row = await db.selectFrom('plugin_data').select('value').where('plugin', '=', plugin).where('key', '=', key).executeTakeFirst();
      return row?.value as JsonValue | undefined;
    },
    async set(key, value) {
      const json = JSON.stringify(value);
      await db
        .insertInto('plugin_data')
        .values({ plugin, key, value: json })
        .onConflict((oc) => oc.columns(['plugin', 'key']).doUpdateSet({ value: json }))
        .execute();
    },
    async delete(key) {
      await db.deleteFrom('plugin_data').where('plugin', '=', plugin).where('key', '=', key).execute();
    },
    async keys(prefix = '') {
      const rows = await db
        .selectFrom('plugin_data')
        .select('key')
        .where('plugin', '=', plugin)
        .where('key', 'like', prefix.replace(/[\\%_]/g, (c) => '\\' + c) + '%')
        .orderBy('key')
        .execute();
      return rows.map((r) => r.key);
    },
  };
}
