import { Readable } from 'node:stream';
import t from 'tap';
import Docker from 'dockerode';
import { ensureImage, PullProgress } from './image-pull.js';

t.test('pull progress folds layer events into one percentage', async (t) => {
  const p = new PullProgress();
  t.equal(p.percent, 0);
  p.add({ status: 'Pulling from library/python', id: '3.12' });
  p.add({ status: 'Pulling fs layer', id: 'a' });
  p.add({ status: 'Pulling fs layer', id: 'b' });
  p.add({ status: 'Already exists', id: 'c' });
  t.equal(p.percent, 33, 'one of three layers is there');
  p.add({ status: 'Downloading', id: 'a', progressDetail: { current: 50, total: 100 } });
  t.equal(p.percent, 50);
  p.add({ status: 'Pull complete', id: 'a' });
  p.add({ status: 'Downloading', id: 'b', progressDetail: { current: 10, total: 40 } });
  t.equal(p.percent, 75);
  t.equal(p.summary, '75% (2 of 3 layers)');
  p.add({ status: 'Pull complete', id: 'b' });
  p.add({ status: 'Digest: sha256:abc' });
  t.equal(p.percent, 100);
});

/** An engine that has `present` images and answers pulls with `lines` (or fails them with `pullError`). */
function fakeEngine(present: string[], lines: object[], pullError?: string): { docker: Docker; pulls: string[] } {
  const pulls: string[] = [];
  const real = new Docker({ socketPath: '/nonexistent.sock' });
  const docker = {
    modem: real.modem,
    getImage: (name: string) => ({
      inspect: async () => {
        if (present.includes(name)) return { Id: name };
        throw Object.assign(new Error('no such image'), { statusCode: 404 });
      },
    }),
    pull: async (ref: string) => {
      pulls.push(ref);
      if (pullError) throw Object.assign(new Error(`(HTTP code 404) unexpected - ${pullError}`), { statusCode: 404 });
      return Readable.from(lines.map((l) => JSON.stringify(l) + '\n'));
    },
  };
  return { docker: docker as unknown as Docker, pulls };
}

const log = { debug() {}, info() {}, warn() {}, error() {} };

t.test('ensureImage follows pull_policy', async (t) => {
  const layers = [
    { status: 'Pulling fs layer', id: 'a' },
    { status: 'Downloading', id: 'a', progressDetail: { current: 5, total: 10 } },
    { status: 'Pull complete', id: 'a' },
  ];
  const seen: number[] = [];
  const absent = fakeEngine([], layers);
  await ensureImage(absent.docker, 'course', 'ifnotpresent', { log, onProgress: (p) => seen.push(p) });
  t.same(absent.pulls, ['course:latest'], 'an absent image is pulled, a bare name as :latest');
  t.same(seen, [0, 50, 100], 'with progress from the layer events');

  const here = fakeEngine(['course:1'], layers);
  await ensureImage(here.docker, 'course:1', 'ifnotpresent', { log, onProgress: () => undefined });
  t.same(here.pulls, [], 'a present image is not pulled');
  await ensureImage(here.docker, 'course:1', 'always', { log, onProgress: () => undefined });
  t.same(here.pulls, ['course:1'], "'always' pulls even when present");

  await t.rejects(ensureImage(fakeEngine([], layers).docker, 'course:1', 'never', { log, onProgress: () => undefined }), { reason: 'image-missing', message: /not on this Docker engine and pull_policy is 'never'/ });
  await t.rejects(ensureImage(fakeEngine([], [], 'manifest unknown').docker, 'course:9', 'ifnotpresent', { log, onProgress: () => undefined }), { reason: 'image-missing', message: 'The image course:9 could not be found: manifest unknown' });
  const offline = fakeEngine(['course:1'], [], 'registry unreachable');
  await ensureImage(offline.docker, 'course:1', 'always', { log, onProgress: () => undefined });
  t.pass("'always' with an unreachable registry falls back to the image already present");
});
