import type { CoreV1Api, V1Namespace } from '@kubernetes/client-node';
import { formatTemplate, SpawnError, type PluginLogger } from '@tshub/plugin-api';
import { DEFAULTS, type UserNamespaceConfig } from './config.js';
import { apiStatusOf } from './kube-client.js';
import { labelValue, objectName, templateNames, type TemplateNames } from './names.js';

/**
 * The label that marks a namespace as created by the hub whose own namespace is its value: the hub
 * deletes only namespaces that carry it with its own name, never one it merely found.
 */
export const HUB_NAMESPACE_LABEL = 'hub.jupyter.org/hub-namespace';

/** The namespace of a user server with enable_user_namespaces: user_namespace_template, made a valid name. */
export function userNamespaceName(c: UserNamespaceConfig, hubNamespace: string, user: string, server: string): string {
  return objectName(c.user_namespace_template ?? DEFAULTS.user_namespace_template, templateNames(user, server, hubNamespace, hubNamespace));
}

/**
 * Whether the template gives each server its own namespace (it uses {servername} or {user_server}):
 * then deleting a named server may delete its namespace; otherwise only deleting the user may.
 */
export function namespacePerServer(c: UserNamespaceConfig, hubNamespace: string, user: string, server: string): boolean {
  return server !== '' && userNamespaceName(c, hubNamespace, user, server) !== userNamespaceName(c, hubNamespace, user, '');
}

/**
 * The user's Namespace: user_namespace_labels/annotations (templated, as KubeSpawner), then the labels
 * that say whose it is and which hub made it (these win, so a template cannot disown it).
 */
export function buildNamespace(c: UserNamespaceConfig, name: string, names: TemplateNames): V1Namespace {
  const values = { ...names, namespace: name };
  const labels = Object.fromEntries(Object.entries(c.user_namespace_labels ?? {}).map(([k, v]) => [k, labelValue(formatTemplate(v, values))]));
  const annotations = Object.fromEntries(Object.entries(c.user_namespace_annotations ?? {}).map(([k, v]) => [k, formatTemplate(v, values)]));
  return {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: {
      name,
      labels: { ...labels, app: 'jupyterhub', heritage: 'jupyterhub', 'hub.jupyter.org/username': labelValue(names.username), [HUB_NAMESPACE_LABEL]: labelValue(names.hubnamespace) },
      annotations: { ...annotations, 'hub.jupyter.org/username': names.unescaped_username },
    },
  };
}

/** Creates the namespace; one that exists already (409) is fine, whoever made it. */
export async function ensureNamespace(core: CoreV1Api, ns: V1Namespace, log: PluginLogger): Promise<void> {
  try {
    await core.createNamespace({ body: ns });
    log.info({ namespace: ns.metadata?.name }, 'user namespace created');
  } catch (err) {
    const status = apiStatusOf(err);
    if (status?.code === 409) return;
    const why = status ? `HTTP ${status.code}: ${status.message}` : String(err);
    const hint = status?.code === 403 ? ' The hub needs a ClusterRole that may create namespaces (deploy/kubernetes/components/user-namespaces).' : '';
    throw new SpawnError('kubernetes-refused', `Kubernetes refused to create the namespace ${ns.metadata?.name} (${why}).${hint}`, { cause: err });
  }
}

/**
 * Deletes a user namespace (and so everything in it), but only one this hub created: its label must
 * name `hubNamespace`. Returns what happened, for the log and the tests.
 */
export async function deleteUserNamespace(core: CoreV1Api, name: string, hubNamespace: string, log: PluginLogger): Promise<'deleted' | 'absent' | 'not-ours'> {
  if (name === hubNamespace) return 'not-ours';
  let ns: V1Namespace;
  try {
    ns = await core.readNamespace({ name });
  } catch (err) {
    if (apiStatusOf(err)?.code === 404) return 'absent';
    throw err;
  }
  if (ns.metadata?.labels?.[HUB_NAMESPACE_LABEL] !== labelValue(hubNamespace)) {
    log.warn({ namespace: name, label: HUB_NAMESPACE_LABEL }, 'not deleting a namespace this hub did not create');
    return 'not-ours';
  }
  try {
    await core.deleteNamespace({ name });
  } catch (err) {
    if (apiStatusOf(err)?.code === 404) return 'absent';
    throw err;
  }
  log.info({ namespace: name }, 'user namespace deleted');
  return 'deleted';
}
