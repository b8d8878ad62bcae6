import type { RouteSource } from './route-manager.js';
import { addRuntimeService, removeRuntimeService } from './service-runtime.js';
import { servicePrefix, type ServiceProcesses, type ServiceRecord, type ServiceRegistryDeps, type ServiceSpec } from './service-spec.js';
import { loadServicesFromConfig } from './service-sync.js';

export type { ServiceProcesses, ServiceRecord, ServiceRegistryDeps, ServiceSpec } from './service-spec.js';

/**
 * JupyterHub's services (contract section 4): syncs `config.services` into the database at start-up
 * (rows, hashed API tokens, OAuth clients), keeps the runtime ones added through the API, and tells
 * the route manager to route `/services/<name>/` to each service that has a url.
 */
export class ServiceRegistry implements RouteSource {
  readonly #deps: ServiceRegistryDeps;
  readonly #services = new Map<string, ServiceRecord>();
  processes: ServiceProcesses | null = null;

  constructor(deps: ServiceRegistryDeps) {
    this.#deps = deps;
  }

  /** `<base_url>services/<name>/` */
  prefixOf(name: string): string {
    return servicePrefix(this.#deps.urls, name);
  }

  get(name: string): ServiceRecord | undefined {
    return this.#services.get(name);
  }

  /** Every service, in name order. */
  all(): ServiceRecord[] {
    return [...this.#services.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /** Services the hub runs itself. */
  managed(): ServiceRecord[] {
    return this.all().filter((s) => s.command.length > 0);
  }

  /** The pid of a managed service's process, 0 when it is not running or not managed. */
  pidOf(name: string): number {
    return this.processes?.pidOf(name) ?? 0;
  }

  *readyRoutes() {
    for (const s of this.#services.values()) {
      if (s.url) yield { routespec: s.prefix, target: s.url, data: { service: s.name } };
    }
  }

  *pendingRoutespecs(): Iterable<string> {}

  /**
   * Start-up: makes the database match `config.services` (JupyterHub's init_services) and loads every
   * service, including those added at runtime before, into memory. Must run before syncRoles, which
   * may name services.
   */
  async syncFromConfig(specs: readonly ServiceSpec[]): Promise<void> {
    const records = await loadServicesFromConfig(this.#deps, specs);
    this.#services.clear();
    for (const [name, rec] of records) this.#services.set(name, rec);
    this.#deps.identities.invalidate();
    if (records.size) {
      this.#deps.log.info({ services: [...records.values()].map((s) => ({ name: s.name, managed: s.command.length > 0, url: s.url })) }, 'services loaded');
    }
  }

  /** POST /hub/api/services/:name: an unmanaged service added at runtime (kept across restarts). */
  addRuntime(spec: ServiceSpec): Promise<ServiceRecord> {
    return addRuntimeService(this.#deps, this.#services, spec);
  }

  /** DELETE /hub/api/services/:name. Services from the config file cannot be deleted (405). */
  removeRuntime(name: string): Promise<void> {
    return removeRuntimeService(this.#deps, this.#services, name);
  }

  /** Role names a service holds (`admin` for admin services), sorted. */
  async roleNames(name: string): Promise<string[]> {
    const rows = await this.#deps.db
      .selectFrom('service_roles')
      .innerJoin('services', 'services.id', 'service_roles.service_id')
      .innerJoin('roles', 'roles.id', 'service_roles.role_id')
      .select('roles.name')
      .where('services.name', '=', name)
      .execute();
    const names = new Set(rows.map((r) => r.name));
    if (this.#services.get(name)?.admin) names.add('admin');
    return [...names].sort();
  }
}
