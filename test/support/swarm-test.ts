import { randomBytes } from 'node:crypto';
import Docker from 'dockerode';
import type { Test } from 'tap';
import { ensureTestImage, needDocker, TEST_IMAGE } from './docker-test-image.js';
import { hasSingleuser, need } from './requirements.js';

/** The label every object of a Swarm test run carries, so its cleanup finds exactly its own. */
export const LABEL = 'org.tshub.test';

/**
 * One Swarm test run: a random id for names and labels, the engine, and `ready(t)`, which checks for
 * the engine, a Swarm and jupyterhub-singleuser (failing in CI, skipping elsewhere), builds the test
 * image if needed and registers the cleanup of everything the run created.
 */
export function swarmRun() {
  const docker = new Docker();
  const RUN = randomBytes(4).toString('hex');
  const filters = { label: [`${LABEL}=${RUN}`] };

  /** Services, their containers and volumes, and this run's image tags: removed even after a failure. */
  async function cleanup(): Promise<void> {
    for (const s of await docker.listServices({ filters })) await docker.getService(s.ID).remove().catch(() => undefined);
    for (let i = 0; i < 50 && (await docker.listContainers({ all: true, filters })).length > 0; i++) await new Promise((r) => setTimeout(r, 200));
    // A container still stopping would keep its volume in use.
    for (const c of await docker.listContainers({ all: true, filters })) await docker.getContainer(c.Id).remove({ force: true }).catch(() => undefined);
    const { Volumes } = await docker.listVolumes({ filters: JSON.stringify(filters) } as object);
    for (const v of Volumes ?? []) await docker.getVolume(v.Name).remove().catch(() => undefined);
    for (const img of await docker.listImages({ filters: JSON.stringify({ reference: [`tshub-test-singleuser:*-${RUN}`] }) } as object)) {
      for (const tag of img.RepoTags ?? []) if (tag.endsWith(`-${RUN}`)) await docker.getImage(tag).remove().catch(() => undefined);
    }
  }

  async function ready(t: Test): Promise<boolean> {
    if (!(await needDocker(t)) || !need(t, hasSingleuser(), 'jupyterhub-singleuser')) return false;
    const info = (await docker.info()) as { Swarm?: { LocalNodeState?: string } };
    if (!need(t, info.Swarm?.LocalNodeState === 'active', 'a Swarm (bash scripts/test-docker.sh start)')) return false;
    await ensureTestImage();
    t.teardown(cleanup);
    return true;
  }

  /** Another name for the local test image (`tshub-test-singleuser:NAME-RUN`), removed with the run. */
  async function tagImage(name: string): Promise<string> {
    await docker.getImage(TEST_IMAGE).tag({ repo: 'tshub-test-singleuser', tag: `${name}-${RUN}` });
    return `tshub-test-singleuser:${name}-${RUN}`;
  }

  return { docker, RUN, ready, cleanup, tagImage };
}
