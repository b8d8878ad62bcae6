import t from 'tap';
import { demux } from './docker-spawner.js';
import { engineMessage } from './docker-errors.js';

t.test('demux reads Docker\'s multiplexed log frames', async (t) => {
  const frame = (stream: number, text: string) => {
    const body = Buffer.from(text);
    const head = Buffer.alloc(8);
    head[0] = stream;
    head.writeUInt32BE(body.length, 4);
    return Buffer.concat([head, body]);
  };
  t.equal(demux(Buffer.concat([frame(1, 'out\n'), frame(2, 'err\n')])), 'out\nerr\n');
  t.equal(demux(Buffer.from('plain text')), 'plain text', 'a TTY stream passes through');
});

t.test('engine messages lose dockerode\'s prefix', async (t) => {
  t.equal(engineMessage(Object.assign(new Error('(HTTP code 400) unexpected - Minimum memory limit allowed is 6MB'), {})), 'Minimum memory limit allowed is 6MB');
  t.equal(engineMessage({ json: { message: 'No such image: x' } }), 'No such image: x');
});
