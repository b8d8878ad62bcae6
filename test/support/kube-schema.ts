import { readFileSync } from 'node:fs';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';

/**
 * Validates Kubernetes manifests against the schema subset shipped in test/data/kubernetes-openapi
 * (Kubernetes v1.36, see the README there). Unknown fields are errors, as `kubectl apply` (field
 * validation "Strict") treats them, so a misspelt or misplaced key fails the test instead of being
 * silently dropped by a cluster.
 *
 *   validateKubernetesManifest(pod)  // [] when valid, else "Pod/jupyter-ada: /spec/containers/0: ..." lines
 */

interface SchemaFile {
  source: { packages: string[] };
  /** "apiVersion/kind" -> definition name */
  kinds: Record<string, string>;
  definitions: Record<string, object>;
}

const SCHEMA_PATH = new URL('../data/kubernetes-openapi/kubernetes-schemas.json', import.meta.url);

let loaded: { file: SchemaFile; ajv: Ajv; validators: Map<string, ValidateFunction> } | undefined;

function load() {
  if (!loaded) {
    const file = JSON.parse(readFileSync(SCHEMA_PATH, 'utf8')) as SchemaFile;
    // allErrors: report every problem of a manifest at once; strict:false because the data is
    // plain JSON Schema draft-07 without ajv's own keywords.
    const ajv = new Ajv({ allErrors: true, strict: false });
    ajv.addSchema({ $id: 'k8s', definitions: file.definitions });
    loaded = { file, ajv, validators: new Map() };
  }
  return loaded;
}

function validatorFor(apiVersion: string, kind: string): ValidateFunction | undefined {
  const { file, ajv, validators } = load();
  const key = `${apiVersion}/${kind}`;
  const definition = file.kinds[key];
  if (!definition) return undefined;
  let v = validators.get(key);
  if (!v) {
    v = ajv.compile({ $ref: `k8s#/definitions/${definition}` });
    validators.set(key, v);
  }
  return v;
}

/** The "apiVersion/kind" pairs the shipped schema covers. */
export function knownKubernetesKinds(): string[] {
  return Object.keys(load().file.kinds);
}

function describe(e: ErrorObject): string {
  const at = e.instancePath || '/';
  switch (e.keyword) {
    case 'additionalProperties':
      return `${at}: unknown field "${String(e.params.additionalProperty)}"`;
    case 'required':
      return `${at}: missing required field "${String(e.params.missingProperty)}"`;
    case 'enum':
      return `${at}: must be one of ${(e.params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`;
    default:
      return `${at}: ${e.message ?? e.keyword}`;
  }
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
/** Kinds whose names must be DNS-1035/1123 labels (63 chars); others allow a subdomain (253). */
const LABEL_NAMED = new Set(['Service', 'Namespace']);

/** Checks the API server makes beyond the OpenAPI schema that our manifests are likely to trip over. */
function nameErrors(kind: string, metadata: unknown): string[] {
  if (typeof metadata !== 'object' || metadata === null) return ['/metadata: missing (a name is required)'];
  const { name, generateName } = metadata as { name?: unknown; generateName?: unknown };
  if (typeof name !== 'string' || name === '') {
    return typeof generateName === 'string' && generateName !== '' ? [] : ['/metadata: missing required field "name"'];
  }
  const label = LABEL_NAMED.has(kind);
  const max = label ? 63 : 253;
  if (name.length > max || !(label ? DNS_LABEL : DNS_SUBDOMAIN).test(name)) {
    return [`/metadata/name: "${name}" is not a valid ${label ? 'DNS label' : 'DNS subdomain'} (lowercase a-z, 0-9, '-'${label ? '' : ", '.'"}; at most ${max} characters)`];
  }
  return [];
}

/**
 * Returns the problems Kubernetes would reject `obj` for ([] when valid). Each line starts with
 * "Kind/name:" and a JSON pointer into the manifest.
 */
export function validateKubernetesManifest(obj: unknown): string[] {
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) return ['manifest: not an object'];
  const { apiVersion, kind, metadata } = obj as { apiVersion?: unknown; kind?: unknown; metadata?: { name?: unknown } };
  if (typeof apiVersion !== 'string' || typeof kind !== 'string') return ['manifest: apiVersion and kind must be strings'];
  const label = `${kind}/${typeof metadata?.name === 'string' ? metadata.name : '?'}`;
  const validate = validatorFor(apiVersion, kind);
  if (!validate) {
    return [`${label}: no schema for ${apiVersion} ${kind} (known: ${knownKubernetesKinds().join(', ')})`];
  }
  const errors = validate(obj) ? [] : (validate.errors ?? []).map(describe);
  errors.push(...nameErrors(kind, metadata));
  return [...new Set(errors)].map((e) => `${label}: ${e}`);
}
