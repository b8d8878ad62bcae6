/** A JSON value, as stored in the database and sent over the API. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

/** A JSON object: spawner state, user_options, auth_state. */
export type JsonObject = { [key: string]: JsonValue };

/**
 * A JSON Schema object (draft-07 subset that Ajv understands). Plugins declare the options they add to
 * their config section with one; the hub merges it into the section's schema and validates once at start.
 * Every property should carry a `description`: it is the option's documentation.
 */
export type JsonSchema = { [key: string]: unknown };
