import type { V1Namespace, V1PersistentVolumeClaim, V1Pod, V1Service } from '@kubernetes/client-node';
import type { JsonObject, SpawnerCommonConfig } from '@tshub/plugin-api';
import { applyOverride, resolvePodOptions, wantsPvc, type KubeSpawnerConfig } from './config.js';
import { objectName, templateNames } from './names.js';
import { buildPod, podEnv, type ManifestNames } from './pod-manifest.js';
import { buildPvc, buildService } from './storage-service-manifests.js';
import { buildNamespace, userNamespaceName } from './user-namespace.js';

/** What {@link renderManifests} needs to know about one user server. */
export interface RenderInput {
  readonly config: KubeSpawnerConfig;
  readonly common: SpawnerCommonConfig;
  readonly user: string;
  readonly server?: string;
  /** The hub's namespace (default: config.namespace, else "default"). */
  readonly namespace?: string;
  /** The hub-computed environment (JUPYTERHUB_* ...). */
  readonly env?: Readonly<Record<string, string>>;
  /** A profile's kubespawner_override to apply. */
  readonly override?: JsonObject;
}

/**
 * Every object a spawn would create for a user, without a cluster: the pod, the PVC (null when no
 * storage is configured), the Service (null unless services_enabled) and the user's Namespace (null
 * unless enable_user_namespaces). For tests and for checking a configuration before a class starts.
 */
export function renderManifests(i: RenderInput): { pod: V1Pod; pvc: V1PersistentVolumeClaim | null; service: V1Service | null; namespace: V1Namespace | null } {
  let o = resolvePodOptions(i.config, i.common);
  if (i.override) o = applyOverride(o, i.override);
  const server = i.server ?? '';
  const hubNs = i.namespace ?? i.config.namespace ?? 'default';
  const namespace = i.config.enable_user_namespaces ? userNamespaceName(i.config, hubNs, i.user, server) : hubNs;
  const names = templateNames(i.user, server, namespace, hubNs);
  const m: ManifestNames = {
    names, namespace, userName: i.user, serverName: server,
    podName: objectName(o.pod_name_template, names), pvcName: objectName(o.pvc_name_template, names),
  };
  const prefix = `/user/${encodeURIComponent(i.user)}/${server ? `${encodeURIComponent(server)}/` : ''}`;
  return {
    pod: buildPod(o, m, podEnv(i.env ?? {}, o, prefix)),
    pvc: wantsPvc(o) ? buildPvc(o, m) : null,
    // The pod's uid is known only once it exists; a placeholder stands in for it here.
    service: o.services_enabled ? buildService(o, m, '00000000-0000-0000-0000-000000000000') : null,
    namespace: i.config.enable_user_namespaces ? buildNamespace(i.config, namespace, names) : null,
  };
}
