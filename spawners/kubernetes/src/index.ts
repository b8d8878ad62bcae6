/**
 * @tshub/spawner-kubernetes: KubeSpawner. Each user server is a pod (with an optional PVC and Service)
 * in the hub's namespace or the user's own; one watch per kind (pods, events) keeps a cache that
 * every spawner waits on.
 */
import type { SpawnerPlugin } from '@tshub/plugin-api';
import type { KubeSpawnerConfig } from './config.js';
import { kubernetesConfigSchema } from './config-schema.js';
import { KubeSpawner } from './kube-spawner.js';
import { KubeShared } from './shared.js';

export const kubernetesSpawner: SpawnerPlugin<KubeSpawnerConfig, KubeShared> = {
  kind: 'kubernetes',
  configSchema: kubernetesConfigSchema,
  openShared: ({ config, log }) => KubeShared.open(config, log),
  create: (ctx) => new KubeSpawner(ctx),
};

export { KubeShared } from './shared.js';
export { KubeSpawner } from './kube-spawner.js';
export { kubernetesConfigSchema } from './config-schema.js';
export { resolvePodOptions, applyOverride, parseByteSize, wantsPvc, DEFAULTS } from './config.js';
export type { KubeSpawnerConfig, ModifyPodContext, ModifyPodHook, PodOptions, ProfileConfig, UserNamespaceConfig } from './config.js';
export { applyPodHook } from './pod-hook.js';
export { buildNamespace, userNamespaceName, namespacePerServer, HUB_NAMESPACE_LABEL } from './user-namespace.js';
export { buildPod, podEnv, templateValues, COMPONENT_LABEL, POD_COMPONENT, NOTEBOOK_CONTAINER } from './pod-manifest.js';
export type { ManifestNames } from './pod-manifest.js';
export { buildPvc, buildService, serviceHost } from './storage-service-manifests.js';
export { safeSlug, dnsLabel, labelValue, templateNames, objectName } from './names.js';
export { startView, pollView, eventMessage } from './pod-status.js';
export { Reflector } from './reflector.js';
export { renderManifests } from './manifests.js';
export type { RenderInput } from './manifests.js';
