import net from 'node:net';
import t from 'tap';
import { releasePort, reservePort } from './ports.js';

t.test('reservePort never gives one port to two starts, even when asked 200 times at once', async (t) => {
  const ports = await Promise.all(Array.from({ length: 200 }, () => reservePort('127.0.0.1')));
  t.equal(new Set(ports).size, 200, '200 distinct ports');
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(ports[0], '127.0.0.1', resolve));
  t.pass('and a reserved port can be bound by its server');
  server.close();
  for (const p of ports) releasePort(p);
});
