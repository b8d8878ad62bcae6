import t from 'tap';
import { ProgressQueue } from './progress-queue.js';

t.test('events pushed before the reader arrives are kept, in order; end() finishes after the buffer', async (t) => {
  const q = new ProgressQueue();
  q.push({ progress: 10, message: 'a' });
  q.push({ progress: 20, message: 'b' });
  const seen: string[] = [];
  const reading = (async () => { for await (const e of q) seen.push(e.message ?? ''); })();
  await new Promise((r) => setImmediate(r));
  q.push({ progress: 30, message: 'c' });
  q.end();
  q.push({ progress: 40, message: 'after end' });
  await reading;
  t.same(seen, ['a', 'b', 'c'], 'everything pushed before end, nothing after');
});
