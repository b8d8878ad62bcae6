/** Pure builders for the Docker create-container body, the volume binds and the names. Table-tested. */
import path from 'node:path';
import { escapeUsername, formatTemplate, type SpawnerCommonConfig } from '@tshub/plugin-api';
import type { ContainerCreateOptions } from 'dockerode';
import { DEFAULT_VOLUME_NAME, type DockerSettings, type VolumeTarget } from './config.js';

/** The template fields of name_template, volumes and extra_create_kwargs. */
export function templateFields(user: string, server: string, prefix: string, image: string): Record<string, string> {
  const escapedServer = escapeUsername(server);
  return {
    username: user,
    escaped_username: escapeUsername(user),
    servername: server,
    escaped_servername: escapedServer,
    servername_suffix: server ? `--${escapedServer}` : '',
    prefix,
    // DockerSpawner's {imagename}: the image without registry path and tag, safe in a container name.
    imagename: (image.split('/').pop() ?? image).split(/[:@]/)[0]!.replace(/[^a-zA-Z0-9_.-]/g, '-'),
  };
}

/** A Docker container name: what the engine accepts (`[a-zA-Z0-9][a-zA-Z0-9_.-]+`). */
export function isValidContainerName(name: string): boolean {
  return /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/.test(name);
}

/** One mount: a host path (bind) or a named volume (created with labels before use). */
export interface Mount {
  source: string;
  target: string;
  readOnly: boolean;
  /** Named volumes are created by the spawner (labelled, kept on stop); host paths are bound. */
  named: boolean;
  mode?: string;
}

/**
 * The configured volumes with fields expanded; with no `volumes` configured, the per-user named
 * volume at the notebook directory (data persistence by default, unlike DockerSpawner).
 */
export function buildMounts(s: DockerSettings, fields: Record<string, string>, notebookDir: string, defaultVolume: boolean): Mount[] {
  const configured = Object.keys(s.volumes).length > 0;
  const volumes: Record<string, VolumeTarget> = configured || !defaultVolume ? s.volumes : { [DEFAULT_VOLUME_NAME]: notebookDir };
  const out: Mount[] = [];
  const add = (entries: Record<string, VolumeTarget>, forceRo: boolean) => {
    for (const [src, t] of Object.entries(entries)) {
      const target = formatTemplate(typeof t === 'string' ? t : t.bind, fields);
      const mode = typeof t === 'string' ? undefined : t.mode;
      const source = formatTemplate(src, fields);
      out.push({ source, target, readOnly: forceRo || mode === 'ro', named: !path.isAbsolute(source), ...(mode && mode !== 'ro' && mode !== 'rw' ? { mode } : {}) });
    }
  };
  add(volumes, false);
  add(s.readOnlyVolumes, true);
  return out;
}

/** `source:target[:ro|rw][,z]` as HostConfig.Binds wants it. */
export function bindString(m: Mount): string {
  const opts = [m.readOnly ? 'ro' : 'rw', ...(m.mode ? [m.mode] : [])];
  return `${m.source}:${m.target}:${opts.join(',')}`;
}

/** Engine API names for docker-py's snake_case keyword arguments that do not follow the plain rule. */
const ENGINE_NAMES: Record<string, string> = {
  command: 'Cmd', environment: 'Env', mem_limit: 'Memory', mem_reservation: 'MemoryReservation', cpu_shares: 'CpuShares',
  working_dir: 'WorkingDir', network_mode: 'NetworkMode', device_requests: 'DeviceRequests', shm_size: 'ShmSize',
};

/** `shm_size` -> `ShmSize`; keys already in Engine API form are kept. */
export function engineKey(key: string): string {
  if (ENGINE_NAMES[key]) return ENGINE_NAMES[key];
  if (!key.includes('_') && /^[A-Z]/.test(key)) return key;
  return key.split('_').map((p) => (p ? p[0]!.toUpperCase() + p.slice(1) : p)).join('');
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Expands template fields in every string of a JSON-like value. */
export function templateDeep(v: unknown, fields: Record<string, string>): unknown {
  if (typeof v === 'string') return formatTemplate(v, fields);
  if (Array.isArray(v)) return v.map((x) => templateDeep(x, fields));
  if (isObj(v)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, templateDeep(x, fields)]));
  return v;
}

/**
 * Merges `extra` over `base`: objects recursively, Binds appended (so the volumes stay), anything else
 * replaced. Only the top level's keys are Engine API names; nested ones (label names) are kept as given.
 */
export function mergeEngine(base: Obj, extra: Obj, topLevel = true): Obj {
  const out: Obj = { ...base };
  for (const [rawKey, v] of Object.entries(extra)) {
    const k = topLevel ? engineKey(rawKey) : rawKey;
    const cur = out[k];
    if (k === 'Binds' && Array.isArray(cur) && Array.isArray(v)) out[k] = [...cur, ...v];
    else if (isObj(cur) && isObj(v)) out[k] = mergeEngine(cur, v, false);
    else out[k] = v;
  }
  return out;
}

export interface CreateInput {
  settings: DockerSettings;
  common: SpawnerCommonConfig;
  name: string;
  image: string;
  env: Readonly<Record<string, string>>;
  labels: Readonly<Record<string, string>>;
  mounts: readonly Mount[];
  /** The port the server listens on inside the container (on the host, for host networking). */
  port: number;
  workingDir: string;
  /** `uid:gid` or a name; '' keeps the image's user. */
  user: string;
  fields: Record<string, string>;
}

/** The create-container body: command, environment, mounts, network, limits, then the extras merged over. */
export function buildCreateOptions(i: CreateInput): ContainerCreateOptions {
  const { settings: s, common } = i;
  const published = s.networkName !== 'host' && !s.useInternalIp;
  const portKey = `${i.port}/tcp`;
  const host: Obj = {
    NetworkMode: s.networkName,
    Binds: i.mounts.map(bindString),
    ...(published ? { PortBindings: { [portKey]: [{ HostIp: s.hostIp, HostPort: '' }] } } : {}),
    ...(common.mem_limit ? { Memory: common.mem_limit } : {}),
    ...(common.mem_guarantee ? { MemoryReservation: common.mem_guarantee } : {}),
    // DockerSpawner's cpu_limit: a CFS quota of limit x period.
    ...(common.cpu_limit ? { CpuPeriod: 100_000, CpuQuota: Math.round(common.cpu_limit * 100_000) } : {}),
    ...(common.cpu_guarantee ? { CpuShares: Math.max(2, Math.round(common.cpu_guarantee * 1024)) } : {}),
  };
  const base: Obj = {
    name: i.name,
    Image: i.image,
    Cmd: [...common.cmd, ...common.args],
    Env: Object.entries(i.env).map(([k, v]) => `${k}=${v}`),
    Labels: { ...i.labels },
    WorkingDir: i.workingDir,
    ...(i.user ? { User: i.user } : {}),
    ...(published ? { ExposedPorts: { [portKey]: {} } } : {}),
    HostConfig: mergeEngine(host, templateDeep(s.extraHost, i.fields) as Obj),
  };
  return mergeEngine(base, templateDeep(s.extraCreate, i.fields) as Obj) as ContainerCreateOptions;
}
