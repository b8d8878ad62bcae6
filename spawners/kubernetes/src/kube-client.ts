import { existsSync, readFileSync } from 'node:fs';
import type { KubeConfig } from '@kubernetes/client-node';
import { HubError } from '@tshub/plugin-api';
import type { KubeConnectionConfig } from './config.js';

const IN_CLUSTER_NAMESPACE = '/var/run/secrets/kubernetes.io/serviceaccount/namespace';

/**
 * The client configuration, in KubeSpawner's order of preference: an explicit `api_url` (with a bearer
 * token and CA), else a kubeconfig (`kubeconfig`, $KUBECONFIG, ~/.kube/config), else the in-cluster
 * service account. A missing token file or kubeconfig is a configuration error named by its key.
 */
export async function loadKubeConfig(c: KubeConnectionConfig): Promise<KubeConfig> {
  // Loaded here, not at import: the client is large and `tshub config check` never needs it.
  const { KubeConfig } = await import('@kubernetes/client-node');
  const kc = new KubeConfig();
  if (c.api_url) {
    let token = c.api_token;
    if (c.api_token_file) {
      try {
        token = readFileSync(c.api_token_file, 'utf8').trim();
      } catch (err) {
        throw new HubError(500, `spawner.api_token_file: cannot read ${c.api_token_file} (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
      }
    }
    let caData: string | undefined;
    if (c.api_ca_file) {
      try {
        caData = readFileSync(c.api_ca_file).toString('base64');
      } catch (err) {
        throw new HubError(500, `spawner.api_ca_file: cannot read ${c.api_ca_file} (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
      }
    }
    const server = c.api_url.replace(/\/+$/, '');
    // client-node refuses plain http unless TLS verification is "skipped": there is no TLS to verify.
    const plainHttp = server.startsWith('http:');
    kc.loadFromClusterAndUser(
      { name: 'tshub', server, skipTLSVerify: plainHttp, ...(caData ? { caData } : {}) },
      { name: 'tshub', ...(token ? { token } : {}) },
    );
    return kc;
  }
  try {
    if (c.kubeconfig) {
      if (!existsSync(c.kubeconfig)) throw new Error('no such file');
      kc.loadFromFile(c.kubeconfig);
    } else {
      kc.loadFromDefault();
    }
  } catch (err) {
    throw new HubError(500, `spawner.kubeconfig: cannot load ${c.kubeconfig ?? 'the default kubeconfig'} (${(err as Error).message})`);
  }
  if (c.kube_context) {
    if (!kc.getContexts().some((x) => x.name === c.kube_context)) {
      throw new HubError(500, `spawner.kube_context: no context '${c.kube_context}' in the kubeconfig (has: ${kc.getContexts().map((x) => x.name).join(', ') || 'none'})`);
    }
    kc.setCurrentContext(c.kube_context);
  }
  if (!kc.getCurrentCluster()) throw new HubError(500, 'spawner: no Kubernetes cluster configured; set spawner.api_url or spawner.kubeconfig');
  return kc;
}

/** The namespace of user pods: configured, else the hub's own (in-cluster), else the context's, else "default". */
export function resolveNamespace(c: KubeConnectionConfig, kc: KubeConfig): string {
  if (c.namespace) return c.namespace;
  if (process.env.POD_NAMESPACE) return process.env.POD_NAMESPACE;
  if (!c.api_url && existsSync(IN_CLUSTER_NAMESPACE)) return readFileSync(IN_CLUSTER_NAMESPACE, 'utf8').trim();
  const ctx = kc.getContextObject(kc.getCurrentContext());
  return ctx?.namespace || 'default';
}

/** What the API server said, from a client-node ApiException (body: a Status object as text) or a watch error. */
export interface ApiStatus {
  code: number;
  reason: string;
  message: string;
}

export function apiStatusOf(err: unknown): ApiStatus | null {
  if (err === null || typeof err !== 'object') return null;
  const e = err as { code?: unknown; statusCode?: unknown; body?: unknown; message?: unknown };
  const code = typeof e.code === 'number' ? e.code : typeof e.statusCode === 'number' ? e.statusCode : null;
  if (code === null) return null;
  let reason = '';
  let message = typeof e.message === 'string' ? e.message : '';
  if (typeof e.body === 'string') {
    try {
      const status = JSON.parse(e.body) as { reason?: string; message?: string };
      reason = status.reason ?? '';
      message = status.message ?? message;
    } catch {
      if (e.body) message = e.body;
    }
  }
  return { code, reason, message };
}
