import { execFile } from 'node:child_process';
import { realpathSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import Docker from 'dockerode';
import type { Test } from 'tap';
import { need } from './requirements.js';

const run = promisify(execFile);

/** The local image the Docker suites run: empty directories only, built by scripts/build-test-image.sh. */
export const TEST_IMAGE = 'tshub-test-singleuser:latest';

/** tap runs with cwd = the repository root. */
const BUILD_SCRIPT = path.resolve(process.cwd(), 'scripts/build-test-image.sh');

/** Whether a Docker engine answers on the default socket (DOCKER_HOST is honoured by dockerode). */
export async function dockerAvailable(): Promise<boolean> {
  try {
    await new Docker().ping();
    return true;
  } catch {
    return false;
  }
}

/**
 * Returns false (and skips `t`) when no Docker engine answers; in CI (TSHUB_TEST_REQUIRE_ALL=1) the
 * suite fails instead. Start one with `bash scripts/test-docker.sh start`.
 */
export async function needDocker(t: Test): Promise<boolean> {
  return need(t, await dockerAvailable(), 'a Docker engine (bash scripts/test-docker.sh start)');
}

let building: Promise<string> | null = null;

/** Builds the test image once per process (a no-op when it exists already) and returns its name. */
export function ensureTestImage(): Promise<string> {
  building ??= run('bash', [BUILD_SCRIPT], { timeout: 120_000 }).then(({ stdout }) => stdout.trim() || TEST_IMAGE);
  return building;
}

/**
 * Host directories mounted read-only into the test image, host path -> container path. On Debian 12
 * (merged /usr) /bin, /lib... are symlinks on the host; the host side is resolved so each becomes a
 * real directory in the container.
 */
export function hostSystemMounts(): Record<string, string> {
  const mounts: Record<string, string> = {};
  for (const dir of ['/usr', '/etc', '/lib', '/lib64', '/bin', '/sbin']) {
    let real: string;
    try {
      real = realpathSync(dir);
    } catch {
      continue; // e.g. no /lib64 on this architecture
    }
    mounts[real] = dir;
  }
  return mounts;
}

/**
 * The `spawner:` config fragment (without `kind`) that runs the HOST's jupyterhub-singleuser in the test
 * image: read-only bind mounts of the system directories, host networking on 127.0.0.1, `--allow-root`
 * (the container runs as root unless a test says otherwise), the classic notebook app (Debian ships no
 * JupyterLab) and pull_policy never (no registry is reachable). Merge it under a test's own options;
 * a test that sets `read_only_volumes` should spread `hostSystemMounts()` into its own.
 */
export function testImageSpawnerConfig(): Record<string, unknown> {
  return {
    image: TEST_IMAGE,
    pull_policy: 'never',
    network_name: 'host',
    read_only_volumes: hostSystemMounts(),
    args: ['--allow-root'],
    environment: { JUPYTERHUB_SINGLEUSER_APP: 'notebook.notebookapp.NotebookApp' },
  };
}
