import { randomBytes } from 'node:crypto';
import Docker from 'dockerode';
import type { Test } from 'tap';

/** The label every container and volume a Docker suite creates carries: `tshub.test=<run id>`. */
export const TEST_LABEL = 'tshub.test';

export interface DockerTestRun {
  docker: Docker;
  runId: string;
  /** `{ 'tshub.test': runId }`, for extra_create_kwargs.Labels (the spawner copies it to the volumes it creates). */
  labels: Record<string, string>;
  /**
   * `name` plus this run's tag: suites run in parallel on one engine (and other suites use the
   * docker kind too), so container and volume names derived from user names must not collide.
   */
  user(name: string): string;
  /** Containers of this run (all states). */
  containers(): Promise<Docker.ContainerInfo[]>;
  /** Named volumes of this run. */
  volumes(): Promise<string[]>;
}

/**
 * A run id for one test and a teardown that force-removes every container and then every volume
 * labelled with it, whatever the test or the hub left behind.
 */
export function dockerTestRun(t: Test): DockerTestRun {
  const docker = new Docker();
  const tag = randomBytes(3).toString('hex');
  const runId = `${process.pid}-${tag}`;
  const filters = JSON.stringify({ label: [`${TEST_LABEL}=${runId}`] });
  const run: DockerTestRun = {
    docker,
    runId,
    labels: { [TEST_LABEL]: runId },
    user: (name) => `${name}${tag}`,
    containers: () => docker.listContainers({ all: true, filters }),
    volumes: async () => ((await docker.listVolumes({ filters })).Volumes ?? []).map((v) => v.Name),
  };
  t.teardown(async () => {
    for (const c of await run.containers()) await docker.getContainer(c.Id).remove({ force: true }).catch(() => undefined);
    for (const v of await run.volumes()) await docker.getVolume(v).remove().catch(() => undefined);
  });
  return run;
}
