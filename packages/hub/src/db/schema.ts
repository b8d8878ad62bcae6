import type { ColumnType, Generated, Selectable } from 'kysely';
import type { JsonObject, JsonValue } from '@tshub/plugin-api';

type Timestamp = ColumnType<Date, Date | string | undefined, Date | string>;
type NullableTimestamp = ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
type Json<T> = ColumnType<T, string | undefined, string>;

export interface UsersTable {
  id: Generated<number>;
  name: string;
  admin: ColumnType<boolean, boolean | undefined, boolean>;
  created: Timestamp;
  last_activity: NullableTimestamp;
  auth_state: string | null;
}

export interface GroupsTable {
  id: Generated<number>;
  name: string;
  properties: Json<JsonObject>;
}

export interface UserGroupsTable {
  user_id: number;
  group_id: number;
}

export interface SpawnersTable {
  id: Generated<number>;
  user_id: number;
  name: ColumnType<string, string | undefined, string>;
  state: Json<JsonObject>;
  user_options: Json<JsonObject>;
  url: string | null;
  started: NullableTimestamp;
  last_activity: NullableTimestamp;
}

export interface ApiTokensTable {
  id: Generated<number>;
  user_id: number | null;
  service_name: string | null;
  hashed: string;
  prefix: string;
  note: ColumnType<string, string | undefined, string>;
  scopes: Json<string[]>;
  created: Timestamp;
  last_activity: NullableTimestamp;
  expires_at: NullableTimestamp;
  client_id: string | null;
  session_id: string | null;
  spawner_id: number | null;
}

export interface OAuthClientsTable {
  id: Generated<number>;
  identifier: string;
  secret_hash: string;
  redirect_uri: string;
  description: ColumnType<string, string | undefined, string>;
  allowed_scopes: Json<string[]>;
  spawner_id: number | null;
  service_name: string | null;
  created: Timestamp;
}

export interface OAuthCodesTable {
  id: Generated<number>;
  code_hash: string;
  client_id: string;
  user_id: number;
  redirect_uri: string;
  scopes: Json<string[]>;
  session_id: string | null;
  expires_at: Timestamp;
}

export interface SessionsTable {
  id: string;
  user_id: number;
  created: Timestamp;
  expires_at: Timestamp;
}

export interface PluginDataTable {
  plugin: string;
  key: string;
  value: Json<JsonValue>;
}

export interface ServicesTable {
  id: Generated<number>;
  name: string;
  admin: ColumnType<boolean, boolean | undefined, boolean>;
  url: string | null;
  info: Json<JsonObject>;
  display: ColumnType<boolean, boolean | undefined, boolean>;
  oauth_client_id: string | null;
  oauth_redirect_uri: string | null;
  oauth_no_confirm: ColumnType<boolean, boolean | undefined, boolean>;
  oauth_client_allowed_scopes: Json<string[]>;
  from_config: ColumnType<boolean, boolean | undefined, boolean>;
  created: Timestamp;
}

export interface RolesTable {
  id: Generated<number>;
  name: string;
  description: ColumnType<string, string | undefined, string>;
  scopes: Json<string[]>;
  managed_by_auth: ColumnType<boolean, boolean | undefined, boolean>;
}

export interface UserRolesTable {
  user_id: number;
  role_id: number;
}

export interface GroupRolesTable {
  group_id: number;
  role_id: number;
}

export interface ServiceRolesTable {
  service_id: number;
  role_id: number;
}

/** A server shared with one user or one group (exactly one of user_id, group_id is set). */
export interface SharesTable {
  id: Generated<number>;
  spawner_id: number;
  user_id: number | null;
  group_id: number | null;
  /** Granted scopes, each filtered `!server=<owner>/<server>`. */
  scopes: Json<string[]>;
  created: Timestamp;
}

/** An invitation to a server: accepting the (hashed) code creates or extends a share. */
export interface ShareCodesTable {
  id: Generated<number>;
  spawner_id: number;
  code_hash: string;
  scopes: Json<string[]>;
  created: Timestamp;
  expires_at: Timestamp;
  exchange_count: ColumnType<number, number | undefined, number>;
  last_exchanged_at: NullableTimestamp;
}

/** The hub database, as Kysely sees it. */
export interface Database {
  users: UsersTable;
  groups: GroupsTable;
  user_groups: UserGroupsTable;
  spawners: SpawnersTable;
  api_tokens: ApiTokensTable;
  oauth_clients: OAuthClientsTable;
  oauth_codes: OAuthCodesTable;
  sessions: SessionsTable;
  plugin_data: PluginDataTable;
  services: ServicesTable;
  roles: RolesTable;
  user_roles: UserRolesTable;
  group_roles: GroupRolesTable;
  service_roles: ServiceRolesTable;
  shares: SharesTable;
  share_codes: ShareCodesTable;
  events: EventsTable;
}

export type UserRow = Selectable<UsersTable>;
export type SpawnerRow = Selectable<SpawnersTable>;
export type TokenRow = Selectable<ApiTokensTable>;
export type OAuthClientRow = Selectable<OAuthClientsTable>;
export type GroupRow = Selectable<GroupsTable>;
export type ServiceRow = Selectable<ServicesTable>;
export type RoleRow = Selectable<RolesTable>;
export type ShareRow = Selectable<SharesTable>;
export type ShareCodeRow = Selectable<ShareCodesTable>;

/** The activity log: one row per hub event or per-user activity tick (names, not ids: rows outlive users). */
export interface EventsTable {
  id: Generated<number>;
  time: Timestamp;
  /** login, logout, login-failed, spawn-requested, spawn-ready, spawn-failed, spawn-throttled, stop, activity */
  kind: string;
  user_name: string | null;
  server_name: string | null;
  /** spawn-ready / spawn-failed: seconds from request; stop: seconds the stop took. */
  seconds: number | null;
  reason: string | null;
  detail: Json<JsonObject>;
}
