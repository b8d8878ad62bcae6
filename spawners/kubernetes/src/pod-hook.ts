import type { V1Pod } from '@kubernetes/client-node';
import { SpawnError } from '@tshub/plugin-api';
import type { ModifyPodContext, ModifyPodHook } from './config.js';

/**
 * Runs `spawner.modify_pod_hook` on a copy of the built pod and returns the pod to create. The hook
 * may return a new manifest or change the copy and return nothing. A hook that throws, returns
 * something that is not a manifest, or renames or moves the pod (the hub would lose track of it)
 * fails the spawn with a message that names the hook.
 */
export async function applyPodHook(hook: ModifyPodHook | null | undefined, pod: V1Pod, ctx: ModifyPodContext): Promise<V1Pod> {
  if (!hook) return pod;
  const copy = structuredClone(pod);
  let result: V1Pod | undefined | void;
  try {
    result = await hook(copy, ctx);
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    throw new SpawnError('modify-pod-hook', `spawner.modify_pod_hook failed for ${ctx.userName}'s server: ${why}`, { cause: err, logMessage: err instanceof Error ? err.stack : why });
  }
  const out = result ?? copy;
  if (typeof out !== 'object' || out === null || Array.isArray(out) || typeof out.spec !== 'object' || out.spec === null) {
    throw new SpawnError('modify-pod-hook', 'spawner.modify_pod_hook must return a pod manifest (an object with metadata and spec) or nothing');
  }
  const name = pod.metadata?.name;
  const namespace = pod.metadata?.namespace;
  if (out.metadata?.name !== name || (out.metadata?.namespace ?? namespace) !== namespace) {
    throw new SpawnError('modify-pod-hook', `spawner.modify_pod_hook may not rename or move the pod (expected ${namespace}/${name}, got ${out.metadata?.namespace ?? namespace}/${out.metadata?.name})`);
  }
  return out;
}
