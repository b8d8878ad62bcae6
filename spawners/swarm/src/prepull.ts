import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { SpawnError, type PrePullProgress } from '@tshub/plugin-api';
import { engineMessage, pullImage } from '@tshub/spawner-docker';
import { DEFAULTS } from './config.js';
import { LABEL_SPAWNER } from './service-spec.js';
import type { SwarmShared } from './swarm-shared.js';
import type { TaskInfo } from './task-state.js';

export interface PrePullResult {
  image: string;
  node?: string;
  ok: boolean;
  message: string;
}

/** Marks the short-lived pre-pull services (apart from user servers). */
export const LABEL_PREPULL = 'org.tshub.prepull';

const IMAGE_MISSING = /no such image|pull access denied|manifest unknown|repository does not exist|failed to resolve reference|invalid reference format/i;
const TERMINAL = new Set(['complete', 'failed', 'rejected', 'shutdown', 'orphaned', 'remove']);

/** A node's pre-pull outcome from its task, or null while it is still working. */
export function prePullOutcome(task: TaskInfo): { ok: boolean; message: string } | null {
  const state = task.Status?.State ?? 'new';
  if (!TERMINAL.has(state)) return null;
  const err = task.Status?.Err ?? '';
  if (state === 'rejected' || IMAGE_MISSING.test(err)) return { ok: false, message: `pull failed: ${err || state}` };
  // 'failed' after prepare still means the image is there: the throw-away command may not exist in it.
  return { ok: true, message: 'image present' };
}

const PROGRESS: Record<string, number> = { new: 5, pending: 10, assigned: 15, accepted: 15, preparing: 30, ready: 90, starting: 95, running: 95 };

/**
 * Pulls each image on every node that may run servers: a global service (one task per eligible node,
 * same placement constraints) whose task only has to get past "preparing", i.e. the node's engine has
 * the image. Restart condition none, removed afterwards. With pull_policy never nothing is pulled; the
 * manager is checked instead.
 */
export async function prePullOnNodes(shared: SwarmShared, images: string[], onProgress: (e: PrePullProgress) => void, signal?: AbortSignal): Promise<PrePullResult[]> {
  const results: PrePullResult[] = [];
  for (const image of images) {
    if (shared.pullPolicy === 'never') {
      const node = (await shared.docker.info()) as { Name?: string };
      const present = await shared.hasImage(image);
      const r = { image, ...(node.Name ? { node: node.Name } : {}), ok: present, message: present ? 'image present' : `image not present and pull_policy is never: nothing was pulled` };
      onProgress({ image, ...(r.node ? { node: r.node } : {}), progress: 100, message: r.message });
      results.push(r);
      continue;
    }
    results.push(...(await pullOnNodes(shared, image, onProgress, signal)));
  }
  return results;
}

/**
 * pull_policy always, before a server's service exists: every eligible node pulls `image`, each step
 * reported through `onProgress`. Throws a SpawnError naming each node that failed and why; the pull
 * service is gone by then, so a failed spawn leaves nothing behind.
 */
export async function pullBeforeSpawn(shared: SwarmShared, image: string, onProgress: (e: PrePullProgress) => void, signal: AbortSignal): Promise<void> {
  const results = await pullOnNodes(shared, image, onProgress, signal);
  if (signal.aborted) throw signal.reason;
  const failed = results.filter((r) => !r.ok);
  if (failed.length === 0) return;
  const where = failed.map((r) => (r.node ? `on node ${r.node}: ${r.message}` : r.message)).join('; ');
  const missing = failed.every((r) => IMAGE_MISSING.test(r.message));
  throw new SpawnError(missing ? 'image-missing' : 'image-pull-failed', `spawner.pull_policy is always and the image ${image} could not be pulled ${where}${await managerReason(shared, image, failed, signal)}. No service was created.`);
}

/**
 * A Swarm task only says "No such image" when its node's pull failed; the registry's answer (unknown
 * repository, no route, denied) is what an admin needs. When the manager is among the failed nodes,
 * its engine is asked to pull once more through the API, which returns that answer.
 */
async function managerReason(shared: SwarmShared, image: string, failed: PrePullResult[], signal: AbortSignal): Promise<string> {
  const manager = ((await shared.docker.info().catch(() => ({}))) as { Name?: string }).Name;
  if (!manager || !failed.some((r) => r.node === manager)) return '';
  try {
    await pullImage(shared.docker, image, () => undefined, signal);
    return '';
  } catch (err) {
    return signal.aborted ? '' : ` (the pull on ${manager} says: ${engineMessage(err)})`;
  }
}

/** Pulls `image` on every node the placement allows; one result per node. */
export async function pullOnNodes(shared: SwarmShared, image: string, onProgress: (e: PrePullProgress) => void, signal?: AbortSignal): Promise<PrePullResult[]> {
  const tag = createHash('sha256').update(image).digest('hex').slice(0, 10);
  const labels = { ...shared.config.labels, [LABEL_SPAWNER]: 'swarm', [LABEL_PREPULL]: image };
  const service = await shared.docker.createService({
    Name: `tshub-prepull-${tag}-${Date.now().toString(36)}`,
    Labels: labels,
    TaskTemplate: {
      ContainerSpec: { Image: image, Command: ['true'], Labels: labels },
      RestartPolicy: { Condition: 'none' },
      Placement: { Constraints: shared.constraints() },
      Networks: [{ Target: 'host' }],
    },
    Mode: { Global: {} },
  });
  const deadline = Date.now() + (shared.config.pre_pull_timeout ?? DEFAULTS.pre_pull_timeout) * 1000;
  const seen = new Map<string, string>();
  const done = new Map<string, PrePullResult>();
  try {
    let settledPolls = 0;
    while (Date.now() < deadline && !signal?.aborted) {
      const tasks = (await shared.docker.listTasks({ filters: { service: [service.id] } })) as TaskInfo[];
      for (const task of tasks) {
        const node = task.NodeID ? (await shared.node(task.NodeID)).name : 'unassigned';
        if (done.has(node)) continue;
        const outcome = prePullOutcome(task);
        if (outcome) {
          done.set(node, { image, node, ...outcome });
          onProgress({ image, node, progress: 100, message: outcome.message });
          continue;
        }
        const state = task.Status?.State ?? 'new';
        if (seen.get(node) !== state) {
          seen.set(node, state);
          onProgress({ image, node, progress: PROGRESS[state] ?? 50, message: state === 'preparing' ? 'pulling' : state });
        }
      }
      // One quiet poll after all tasks finish, so a node whose task appears late is not missed.
      const allDone = tasks.length > 0 && done.size >= tasks.length;
      settledPolls = allDone ? settledPolls + 1 : 0;
      if (settledPolls >= 2) break;
      await sleep(300, undefined, signal ? { signal } : {}).catch(() => undefined);
    }
    for (const [node, state] of seen) {
      if (!done.has(node)) done.set(node, { image, node, ok: false, message: signal?.aborted ? 'cancelled' : `timed out while ${state}` });
    }
    if (done.size === 0) done.set('', { image, ok: false, message: 'no node accepted the pre-pull (check spawner.placement)' });
    return [...done.values()];
  } finally {
    await service.remove().catch((err: unknown) => shared.log.warn({ err: String(err), image }, 'could not remove the pre-pull service'));
  }
}
