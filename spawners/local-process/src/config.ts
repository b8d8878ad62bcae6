import os from 'node:os';
import path from 'node:path';
import type { JsonSchema } from '@tshub/plugin-api';

/** Options both kinds share. Every key is optional: defaults are applied here, not by the hub. */
export interface ProcessSpawnerConfig {
  /** Directory for the per-server stdout/stderr log files. */
  log_dir?: string;
  /** Seconds to wait after SIGINT before sending SIGTERM. */
  interrupt_timeout?: number;
  /** Seconds to wait after SIGTERM before sending SIGKILL. */
  term_timeout?: number;
  /** Seconds to wait after SIGKILL before giving up. */
  kill_timeout?: number;
}

/** Options of the `simple` kind (JupyterHub's SimpleLocalProcessSpawner). */
export interface SimpleSpawnerConfig extends ProcessSpawnerConfig {
  /** Home directory template; relative paths are resolved against the hub's working directory. */
  home_dir_template?: string;
}

/** Options of the `local-process` kind (JupyterHub's LocalProcessSpawner). */
export interface LocalProcessSpawnerConfig extends ProcessSpawnerConfig {
  /** Create a missing system account with `add_user_cmd` instead of failing the spawn. */
  create_system_users?: boolean;
  /** argv that creates an account; the literal word `USERNAME` is replaced by the name. */
  add_user_cmd?: string[];
}

/** JupyterHub's defaults for the stop escalation, in seconds. */
export const DEFAULT_TIMEOUTS = { interrupt_timeout: 10, term_timeout: 5, kill_timeout: 5 } as const;

/** Per-user homes under ./tshub-homes, named by the escaped user name so no name can leave that directory. */
export const DEFAULT_HOME_DIR_TEMPLATE = 'tshub-homes/{escaped_username}';

/** On Debian `useradd` is always present (adduser is not), so it is the portable default. */
export const DEFAULT_ADD_USER_CMD: readonly string[] = ['useradd', '--create-home', '--shell', '/bin/bash', 'USERNAME'];

/** Where logs go unless `log_dir` says otherwise. Computed lazily: tests may change TMPDIR. */
export function defaultLogDir(): string {
  return path.join(os.tmpdir(), 'tshub-server-logs');
}

/** The stop escalation with defaults applied, in milliseconds. */
export interface StopTimeouts {
  interruptMs: number;
  termMs: number;
  killMs: number;
}

/** Applies defaults to the timeout options and converts them to milliseconds. */
export function stopTimeouts(config: ProcessSpawnerConfig): StopTimeouts {
  const seconds = (v: number | undefined, d: number): number => (typeof v === 'number' && v >= 0 ? v : d);
  return {
    interruptMs: seconds(config.interrupt_timeout, DEFAULT_TIMEOUTS.interrupt_timeout) * 1000,
    termMs: seconds(config.term_timeout, DEFAULT_TIMEOUTS.term_timeout) * 1000,
    killMs: seconds(config.kill_timeout, DEFAULT_TIMEOUTS.kill_timeout) * 1000,
  };
}

const timeoutProperty = (description: string, dflt: number): JsonSchema => ({
  type: 'number',
  minimum: 0,
  default: dflt,
  description,
});

const sharedProperties: Record<string, JsonSchema> = {
  log_dir: {
    type: 'string',
    description:
      "Directory for each server's stdout/stderr log file (one file per server, mode 0600; the previous run is kept as .log.1). " +
      'Defaults to tshub-server-logs in the system temporary directory. Must not be writable by other users.',
  },
  interrupt_timeout: timeoutProperty('Seconds to wait for the server to exit after SIGINT before sending SIGTERM.', DEFAULT_TIMEOUTS.interrupt_timeout),
  term_timeout: timeoutProperty('Seconds to wait for the server to exit after SIGTERM before sending SIGKILL.', DEFAULT_TIMEOUTS.term_timeout),
  kill_timeout: timeoutProperty('Seconds to wait for the server to exit after SIGKILL before giving up.', DEFAULT_TIMEOUTS.kill_timeout),
};

/** JSON Schema for the options the `simple` kind adds to the `spawner:` section. */
export const simpleConfigSchema: JsonSchema = {
  type: 'object',
  properties: {
    home_dir_template: {
      type: 'string',
      default: DEFAULT_HOME_DIR_TEMPLATE,
      description:
        'Home directory of each user, created with mode 0700 on first spawn. Relative paths are resolved against the ' +
        "hub's working directory. Placeholders: {escaped_username} (safe in paths), {username} (the raw name; refused " +
        'if it contains a slash or is . or ..), {servername}. A name can never place the directory outside the template\'s fixed prefix.',
    },
    ...sharedProperties,
  },
};

/** JSON Schema for the options the `local-process` kind adds to the `spawner:` section. */
export const localProcessConfigSchema: JsonSchema = {
  type: 'object',
  properties: {
    create_system_users: {
      type: 'boolean',
      default: false,
      description: 'Create a missing system account with add_user_cmd when its user first spawns, instead of failing. Needs root.',
    },
    add_user_cmd: {
      type: 'array',
      items: { type: 'string' },
      minItems: 1,
      default: DEFAULT_ADD_USER_CMD,
      description: 'Command (argv, no shell) that creates a system account; the word USERNAME is replaced by the user name.',
    },
    ...sharedProperties,
  },
};
