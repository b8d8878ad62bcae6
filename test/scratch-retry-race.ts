import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { BrowserClient } from './support/browser-client.js';
import { SINGLEUSER } from './support/requirements.js';
import { startTestHub } from './support/test-hub.js';

t.test('retry right after a failure whose stop is slow', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'tshub-race-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'server.sh');
  writeFileSync(file, `#!/bin/sh
if [ ! -e "${dir}/once" ]; then touch "${dir}/once"; trap '' TERM; exec sleep 600; fi
exec ${SINGLEUSER} "$@"
`, { mode: 0o755 });
  const th = await startTestHub(t, { config: { spawner: { cmd: [file], args: ['--allow-root'], http_timeout: 1 } } });
  const alice = new BrowserClient(th.publicUrl);
  const failed = await alice.login('alice');
  t.equal(failed.status, 500, alice.hops.join(' | '));
  const t0 = Date.now();
  alice.hops.length = 0;
  const landed = await alice.get('/hub/spawn/alice');
  console.log('retry after', Date.now() - t0, 'ms:', landed.status, landed.url, alice.hops.join(' | '));
  console.log(landed.text.replace(/<[^>]*>/g, ' ').replace(/\s+/g, ' ').slice(0, 600));
  const rows = await th.hub.ctx.db.selectFrom('api_tokens').select(['id', 'spawner_id', 'note']).execute();
  console.log('tokens', rows);
  const clients = await th.hub.ctx.db.selectFrom('oauth_clients').select(['identifier']).execute();
  console.log('clients', clients);
  t.equal(landed.status, 200);
});
