import t from 'tap';
import SwaggerParser from '@apidevtools/swagger-parser';
import { startTestHub } from './support/test-hub.js';

t.test('the OpenAPI document is generated from the routes, validates, and lists every route', async (t) => {
  const th = await startTestHub(t);
  const res = await fetch(`${th.publicUrl}/hub/api/openapi.json`);
  t.equal(res.status, 200);
  const doc = (await res.json()) as { openapi: string; paths: Record<string, Record<string, unknown>> };
  t.match(doc.openapi, /^3\./);
  await t.resolves(SwaggerParser.validate(structuredClone(doc) as never), 'it is a valid OpenAPI document');

  const seen = new Set<string>();
  for (const [path, ops] of Object.entries(doc.paths)) for (const m of Object.keys(ops)) seen.add(`${m.toUpperCase()} ${path}`);
  const expected = [
    'GET /', 'GET /info', 'GET /user', 'GET /users/{name}', 'POST /users/{name}/server', 'DELETE /users/{name}/server',
    'POST /users/{name}/servers/{server}', 'DELETE /users/{name}/servers/{server}', 'GET /users/{name}/server/progress',
    'POST /users/{name}/activity', 'GET /oauth2/authorize', 'POST /oauth2/token', 'GET /groups', 'GET /users/{name}/tokens',
    'GET /proxy', 'POST /shutdown', 'GET /health',
  ];
  for (const e of expected) t.ok(seen.has(e), `documents ${e}`);
  t.notOk([...seen].some((s) => s.includes('/hub/login') || s.endsWith('/*')), 'pages and the JSON 404 catch-all are not in it');
});
