import type { CoreV1Event, V1ContainerStatus, V1Pod } from '@kubernetes/client-node';
import type { PollResult } from '@tshub/plugin-api';
import { NOTEBOOK_CONTAINER } from './pod-manifest.js';

/** Where a starting pod stands, read from the watch cache. */
export type StartView =
  | { readonly state: 'waiting' }
  | { readonly state: 'running'; readonly podIP: string }
  | { readonly state: 'failed'; readonly reason: string; readonly message: string };

/** Waiting reasons that do not heal by waiting: the spawn ends at once with the reason. */
const IMAGE_FAILURES = new Set(['ErrImagePull', 'ImagePullBackOff', 'InvalidImageName', 'ErrImageNeverPull']);
const CONFIG_FAILURES = new Set(['CreateContainerConfigError', 'CreateContainerError', 'RunContainerError']);

function notebookStatus(pod: V1Pod): V1ContainerStatus | undefined {
  const all = pod.status?.containerStatuses ?? [];
  return all.find((c) => c.name === NOTEBOOK_CONTAINER) ?? all[0];
}

/**
 * The events about one pod, oldest first (matched by uid when known, since a new pod may reuse the
 * name; and by namespace when given, since a cluster-wide cache may hold pods of the same name).
 */
export function eventsFor(events: readonly CoreV1Event[], podName: string, podUid: string | undefined, namespace?: string): CoreV1Event[] {
  return events.filter((e) => e.involvedObject.kind === 'Pod' && e.involvedObject.name === podName
    && (!namespace || !e.involvedObject.namespace || e.involvedObject.namespace === namespace)
    && (!podUid || !e.involvedObject.uid || e.involvedObject.uid === podUid));
}

/**
 * Reads a starting pod: running once it has an IP, failed for a state that will not heal (image pull
 * back-off, unschedulable with no node being added, bad container config, the server exiting), else
 * waiting. Pure: the spawner calls it on every watch event about the pod.
 */
export function startView(pod: V1Pod | undefined, events: readonly CoreV1Event[], image: string): StartView {
  if (!pod) return { state: 'failed', reason: 'pod-deleted', message: 'The pod was deleted before the server started.' };
  if (pod.metadata?.deletionTimestamp) return { state: 'failed', reason: 'pod-deleted', message: 'The pod is being deleted.' };
  const c = notebookStatus(pod);
  const waiting = c?.state?.waiting;
  if (waiting?.reason && IMAGE_FAILURES.has(waiting.reason)) {
    return { state: 'failed', reason: 'image-pull', message: `The image ${image} could not be pulled (${waiting.reason}${waiting.message ? `: ${waiting.message}` : ''}).` };
  }
  if (waiting?.reason && CONFIG_FAILURES.has(waiting.reason)) {
    return { state: 'failed', reason: 'container-config', message: `The container could not be created (${waiting.reason}${waiting.message ? `: ${waiting.message}` : ''}).` };
  }
  const terminated = c?.state?.terminated;
  if (waiting?.reason === 'CrashLoopBackOff' || terminated || pod.status?.phase === 'Failed' || pod.status?.phase === 'Succeeded') {
    const t = terminated ?? c?.lastState?.terminated;
    const detail = t ? ` with code ${t.exitCode}${t.reason ? ` (${t.reason})` : ''}` : '';
    return { state: 'failed', reason: 'exited', message: `The server exited${detail} before it was ready.${t?.message ? ` ${t.message}` : ''}` };
  }
  const scheduled = pod.status?.conditions?.find((x) => x.type === 'PodScheduled');
  if (scheduled?.status === 'False' && scheduled.reason === 'Unschedulable') {
    // The cluster autoscaler is adding a node: waiting will help, so do not give up.
    if (!events.some((e) => e.reason === 'TriggeredScaleUp')) {
      const failed = [...events].reverse().find((e) => e.reason === 'FailedScheduling');
      const why = scheduled.message ?? failed?.message ?? 'no node has room for it';
      return { state: 'failed', reason: 'unschedulable', message: `The pod cannot be scheduled: ${why}` };
    }
  }
  if (pod.status?.phase === 'Running' && pod.status.podIP) return { state: 'running', podIP: pod.status.podIP };
  return { state: 'waiting' };
}

/**
 * JupyterHub's poll from the cache alone: gone or being deleted is stopped; a terminated notebook
 * container gives its exit code; anything else (including Pending) counts as running.
 */
export function pollView(pod: V1Pod | undefined): PollResult {
  if (!pod || pod.metadata?.deletionTimestamp) return { running: false };
  const terminated = notebookStatus(pod)?.state?.terminated;
  if (terminated) return { running: false, exitCode: terminated.exitCode };
  if (pod.status?.phase === 'Failed' || pod.status?.phase === 'Succeeded') return { running: false, exitCode: pod.status.phase === 'Succeeded' ? 0 : 1 };
  return { running: true };
}

/** A progress line for an event, as KubeSpawner shows them: `[Normal] Pulling: Pulling image "..."`. */
export function eventMessage(e: CoreV1Event): string {
  return `[${e.type ?? 'Normal'}] ${e.reason ?? 'Event'}: ${e.message ?? ''}`.trim();
}
