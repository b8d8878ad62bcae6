import t from 'tap';
import { startAuthHub } from './support/auth-test-hub.js';
import { recordingSpawner } from './support/recording-spawner.js';

/**
 * JupyterHub's delete_forever: removing a named server or a user asks the spawner to remove what it
 * keeps (volumes, PVCs); merely stopping a server does not.
 */
const TOKEN = 'delete-forever-admin-token';

t.test('the spawner removes stored data when a named server or a user is deleted, not on stop', async (t) => {
  const spawner = recordingSpawner();
  const h = await startAuthHub(t, {
    spawners: [spawner.plugin],
    authenticator: { kind: 'dummy', allow_all: true, admin_users: ['root'] },
    hub: { allow_named_servers: true, api_tokens: { [TOKEN]: 'root' } },
  });
  const api = (method: string, path: string, body?: unknown) =>
    fetch(`${h.publicUrl}/hub/api${path}`, {
      method, headers: { authorization: `token ${TOKEN}`, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body),
    });
  t.equal((await api('POST', '/users/ada')).status, 201);
  t.equal((await api('POST', '/users/ada/servers/lab')).status, 201, 'named server started');
  t.equal((await api('DELETE', '/users/ada/servers/lab')).status, 204, 'stopped');
  t.same(spawner.deleted, [], 'a stop keeps the data');
  t.equal((await api('DELETE', '/users/ada/servers/lab', { remove: true })).status, 204, 'removed');
  t.same(spawner.deleted, ['ada/lab'], 'removing the named server removes its data');
  t.equal((await api('POST', '/users/ada/server')).status, 201, 'default server started');
  t.equal((await api('DELETE', '/users/ada')).status, 204, 'user deleted');
  t.same(spawner.deleted, ['ada/lab', 'ada/'], 'deleting the user removes the data of each server it had');
  t.equal((await api('GET', '/users/ada')).status, 404);
});
