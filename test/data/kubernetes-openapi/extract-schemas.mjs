#!/usr/bin/env node
// Regenerates kubernetes-schemas.json from the npm package kubernetes-models (see README.md here).
// The package ships its OpenAPI-derived models as TypeScript declarations plus ajv-compiled
// validators, not as JSON; we read the declarations with the TypeScript compiler to rebuild JSON
// schemas of the kinds the deployment and the Kubernetes spawner use, and take `integer` from the
// compiled validators (declarations only say `number`).
//
// Usage: node extract-schemas.mjs <kubernetes-models dir> <@kubernetes-models/apimachinery dir>
import { readFileSync, existsSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const [modelsDir, machineryDir] = process.argv.slice(2).map((p) => resolve(p));
if (!modelsDir || !machineryDir) {
  console.error('usage: node extract-schemas.mjs <kubernetes-models dir> <apimachinery dir>');
  process.exit(2);
}

/** apiVersion, kind, declaration file (relative to kubernetes-models). */
const KINDS = [
  ['v1', 'Namespace', 'v1/Namespace'],
  ['v1', 'Pod', 'v1/Pod'],
  ['v1', 'PersistentVolumeClaim', 'v1/PersistentVolumeClaim'],
  ['v1', 'Service', 'v1/Service'],
  ['v1', 'ServiceAccount', 'v1/ServiceAccount'],
  ['v1', 'ConfigMap', 'v1/ConfigMap'],
  ['v1', 'Secret', 'v1/Secret'],
  ['v1', 'Event', 'v1/Event'],
  ['apps/v1', 'Deployment', 'apps/v1/Deployment'],
  ['apps/v1', 'DaemonSet', 'apps/v1/DaemonSet'],
  ['apps/v1', 'StatefulSet', 'apps/v1/StatefulSet'],
  ['rbac.authorization.k8s.io/v1', 'Role', 'rbac.authorization.k8s.io/v1/Role'],
  ['rbac.authorization.k8s.io/v1', 'RoleBinding', 'rbac.authorization.k8s.io/v1/RoleBinding'],
  ['rbac.authorization.k8s.io/v1', 'ClusterRole', 'rbac.authorization.k8s.io/v1/ClusterRole'],
  ['rbac.authorization.k8s.io/v1', 'ClusterRoleBinding', 'rbac.authorization.k8s.io/v1/ClusterRoleBinding'],
  ['scheduling.k8s.io/v1', 'PriorityClass', 'scheduling.k8s.io/v1/PriorityClass'],
  ['networking.k8s.io/v1', 'NetworkPolicy', 'networking.k8s.io/v1/NetworkPolicy'],
  ['networking.k8s.io/v1', 'Ingress', 'networking.k8s.io/v1/Ingress'],
  ['policy/v1', 'PodDisruptionBudget', 'policy/v1/PodDisruptionBudget'],
];

/** Maps an import specifier to the declaration file it names. */
function resolveModule(fromFile, spec) {
  const machinery = '@kubernetes-models/apimachinery/';
  let base;
  if (spec.startsWith(machinery)) base = join(machineryDir, spec.slice(machinery.length));
  else if (spec.startsWith('.')) base = resolve(dirname(fromFile), spec.replace(/\.js$/, ''));
  else return undefined; // @kubernetes-models/base: TypeMeta and Model, no schema content
  return `${base}.d.ts`;
}

const definitions = {};
/** canonical name (IIoK8s...) -> declaration file, filled while reading imports */
const fileOf = new Map();
const queue = [];

function want(canonical, file) {
  const name = canonical.replace(/^I/, '');
  if (definitions[name] || fileOf.has(canonical)) return name;
  fileOf.set(canonical, file);
  queue.push(canonical);
  return name;
}

/** Integer properties, read from the ajv-compiled validator next to the declaration. */
function integerProps(file, name) {
  const root = file.startsWith(machineryDir) ? machineryDir : modelsDir;
  const js = join(root, '_schemas', `${name}.js`);
  if (!existsSync(js)) return new Set();
  const src = readFileSync(js, 'utf8');
  const bodies = new Map();
  for (const m of src.matchAll(/function (validate\d+)\(data[^)]*\)\{([\s\S]*?)return \1\.errors=vErrors/g)) {
    bodies.set(m[1], m[2]);
  }
  const ints = new Set();
  const propCall = /void 0!==data(?:\.(\w+)|\["([^"]+)"\])&&\(?(?:null!==data(?:\.\w+|\["[^"]+"\])&&)?\(?(validate\d+)\(/g;
  for (const m of src.matchAll(propCall)) {
    const body = bodies.get(m[3]) ?? '';
    if (/params:\{type:"integer"\}/.test(body) && !/Array\.isArray|"object"==typeof/.test(body)) {
      ints.add(m[1] ?? m[2]);
    }
  }
  return ints;
}

function convert(node, ctx) {
  switch (node.kind) {
    case ts.SyntaxKind.StringKeyword:
      return { type: 'string' };
    case ts.SyntaxKind.NumberKeyword:
      return { type: 'number' };
    case ts.SyntaxKind.BooleanKeyword:
      return { type: 'boolean' };
    case ts.SyntaxKind.AnyKeyword:
    case ts.SyntaxKind.UnknownKeyword:
    case ts.SyntaxKind.ObjectKeyword:
      return {};
    case ts.SyntaxKind.ParenthesizedType:
      return convert(node.type, ctx);
    case ts.SyntaxKind.LiteralType:
      if (ts.isStringLiteral(node.literal)) return { type: 'string', enum: [node.literal.text] };
      if (node.literal.kind === ts.SyntaxKind.NullKeyword) return { type: 'null' };
      if (node.literal.kind === ts.SyntaxKind.TrueKeyword) return { type: 'boolean', enum: [true] };
      throw new Error(`unsupported literal in ${ctx.file}`);
    case ts.SyntaxKind.ArrayType:
      return { type: 'array', items: convert(node.elementType, ctx) };
    case ts.SyntaxKind.UnionType:
      return union(node.types.map((t) => convert(t, ctx)));
    case ts.SyntaxKind.TypeLiteral:
      return typeLiteral(node, ctx);
    case ts.SyntaxKind.TypeReference: {
      const id = node.typeName.getText(ctx.sf);
      if (id === 'Array') return { type: 'array', items: convert(node.typeArguments[0], ctx) };
      if (id === 'Record') return { type: 'object', additionalProperties: convert(node.typeArguments[1], ctx) };
      const canonical = ctx.imports.get(id) ?? ctx.local.get(id);
      if (!canonical) throw new Error(`unknown type ${id} in ${ctx.file}`);
      return { $ref: `#/definitions/${want(canonical.name, canonical.file)}` };
    }
    case ts.SyntaxKind.IndexedAccessType:
      return {};
    default:
      throw new Error(`unsupported type ${ts.SyntaxKind[node.kind]} in ${ctx.file}`);
  }
}

function union(parts) {
  if (parts.every((p) => p.enum && p.type === 'string')) return { type: 'string', enum: parts.flatMap((p) => p.enum) };
  if (parts.every((p) => typeof p.type === 'string' && !p.enum && !p.items)) return { type: parts.map((p) => p.type) };
  return { anyOf: parts };
}

function typeLiteral(node, ctx) {
  const index = node.members.find(ts.isIndexSignatureDeclaration);
  if (index) return { type: 'object', additionalProperties: convert(index.type, ctx) };
  return objectSchema(node.members, ctx, new Set());
}

function objectSchema(members, ctx, ints) {
  // An empty declaration (FieldsV1, RawExtension) stands for free-form JSON.
  if (members.length === 0) return { type: 'object' };
  const properties = {};
  const required = [];
  for (const m of members) {
    if (!ts.isPropertySignature(m)) continue;
    const key = m.name.text ?? m.name.getText(ctx.sf);
    let schema = convert(m.type, ctx);
    if (ints.has(key) && schema.type === 'number') schema = { type: 'integer' };
    properties[key] = schema;
    if (!m.questionToken) required.push(key);
  }
  // Strict like `kubectl apply` (field validation "Strict"): unknown fields are errors.
  const out = { type: 'object', properties, additionalProperties: false };
  if (required.length) out.required = required;
  return out;
}

function readDeclaration(canonical) {
  const file = fileOf.get(canonical);
  const sf = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
  const imports = new Map();
  const local = new Map();
  let target;
  for (const st of sf.statements) {
    if (ts.isImportDeclaration(st) && st.importClause?.namedBindings) {
      const from = resolveModule(file, st.moduleSpecifier.text);
      if (!from) continue;
      for (const el of st.importClause.namedBindings.elements) imports.set(el.name.text, { name: el.name.text, file: from });
    }
    if (ts.isExportDeclaration(st) && st.exportClause) {
      for (const el of st.exportClause.elements) {
        if (el.name.text === canonical) target = el.propertyName?.text ?? el.name.text;
      }
    }
  }
  if (!target) throw new Error(`${canonical} is not exported by ${file}`);
  local.set(target, { name: canonical, file });
  const ctx = { file, sf, imports, local };
  const name = canonical.replace(/^I/, '');
  for (const st of sf.statements) {
    if (ts.isInterfaceDeclaration(st) && st.name.text === target) {
      return objectSchema(st.members, ctx, integerProps(file, name));
    }
    if (ts.isTypeAliasDeclaration(st) && st.name.text === target) return convert(st.type, ctx);
  }
  throw new Error(`no declaration of ${target} in ${file}`);
}

const kinds = {};
for (const [apiVersion, kind, path] of KINDS) {
  const file = join(modelsDir, `${path}.d.ts`);
  const sf = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
  const exported = sf.statements
    .filter(ts.isExportDeclaration)
    .flatMap((st) => st.exportClause.elements.map((el) => el.name.text))
    .find((n) => /^IIoK8s/.test(n));
  kinds[`${apiVersion}/${kind}`] = want(exported, file);
}
while (queue.length) {
  const canonical = queue.shift();
  definitions[canonical.replace(/^I/, '')] = readDeclaration(canonical);
}

const pkg = (dir) => JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
const out = {
  source: {
    packages: [`${pkg(modelsDir).name}@${pkg(modelsDir).version}`, `${pkg(machineryDir).name}@${pkg(machineryDir).version}`],
    generator: 'test/data/kubernetes-openapi/extract-schemas.mjs',
  },
  kinds,
  definitions: Object.fromEntries(Object.entries(definitions).sort(([a], [b]) => a.localeCompare(b))),
};
const here = dirname(fileURLToPath(import.meta.url));
writeFileSync(join(here, 'kubernetes-schemas.json'), `${JSON.stringify(out, null, 1)}\n`);
console.log(`${Object.keys(kinds).length} kinds, ${Object.keys(definitions).length} definitions`);
