import type { V1PersistentVolumeClaim, V1Service } from '@kubernetes/client-node';
import { formatTemplate } from '@tshub/plugin-api';
import type { PodOptions } from './config.js';
import { labelValue } from './names.js';
import { commonAnnotations, commonLabels, COMPONENT_LABEL, POD_COMPONENT, templateValues, type ManifestNames } from './pod-manifest.js';

/** KubeSpawner's make_pvc: the user's claim, requested at `storage_capacity` from `storage_class`. */
export function buildPvc(o: PodOptions, m: ManifestNames): V1PersistentVolumeClaim {
  if (!m.pvcName) throw new Error('buildPvc needs a PVC name');
  const values = templateValues(m);
  const extra = Object.fromEntries(Object.entries(o.storage_extra_labels).map(([k, v]) => [k, labelValue(formatTemplate(v, values))]));
  return {
    apiVersion: 'v1',
    kind: 'PersistentVolumeClaim',
    metadata: {
      name: m.pvcName,
      namespace: m.namespace,
      labels: { ...extra, ...commonLabels(m, 'singleuser-storage') },
      annotations: commonAnnotations(m),
    },
    spec: {
      accessModes: o.storage_access_modes,
      // A claim must request some size; 1Gi when only storage_pvc_ensure was set.
      resources: { requests: { storage: o.storage_capacity ?? '1Gi' } },
      ...(o.storage_class !== null ? { storageClassName: o.storage_class } : {}),
    },
  };
}

/**
 * KubeSpawner's make_service (services_enabled): a ClusterIP Service named like the pod, selecting it,
 * and owned by it, so Kubernetes deletes the Service with the pod.
 */
export function buildService(o: PodOptions, m: ManifestNames, podUid: string): V1Service {
  const labels = commonLabels(m, POD_COMPONENT);
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: {
      name: m.podName,
      namespace: m.namespace,
      labels: { ...labels, [COMPONENT_LABEL]: 'singleuser-service' },
      annotations: commonAnnotations(m),
      ownerReferences: [{ apiVersion: 'v1', kind: 'Pod', name: m.podName, uid: podUid }],
    },
    spec: {
      type: 'ClusterIP',
      selector: {
        [COMPONENT_LABEL]: POD_COMPONENT,
        'hub.jupyter.org/username': labels['hub.jupyter.org/username']!,
        'hub.jupyter.org/servername': labels['hub.jupyter.org/servername']!,
      },
      ports: [{ name: 'http', port: o.port, targetPort: o.port, protocol: 'TCP' }],
    },
  };
}

/** The in-cluster DNS name of a user server's Service. */
export function serviceHost(m: ManifestNames): string {
  return `${m.podName}.${m.namespace}.svc.cluster.local`;
}
