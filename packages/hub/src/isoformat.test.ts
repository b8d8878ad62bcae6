// JupyterHub timestamps (contract 1.1 "Timestamps"): isoformat()+'Z', microseconds only when non-zero.
import t from 'tap';
import { isoformat, parseTimestamp } from './isoformat.js';

const utc = (y: number, mo: number, d: number, h = 0, mi = 0, s = 0, ms = 0) => new Date(Date.UTC(y, mo - 1, d, h, mi, s, ms));

t.test('isoformat', async (t) => {
  const cases: Array<[Date | null | undefined, string | null]> = [
    [null, null],
    [undefined, null],
    [utc(2024, 5, 1, 12), '2024-05-01T12:00:00Z'],
    [utc(2024, 5, 1, 12, 0, 0, 123), '2024-05-01T12:00:00.123000Z'],
    [utc(2024, 5, 1, 12, 0, 0, 5), '2024-05-01T12:00:00.005000Z'],
    [utc(2024, 5, 1, 12, 0, 0, 100), '2024-05-01T12:00:00.100000Z'],
    [utc(1999, 12, 31, 23, 59, 59, 999), '1999-12-31T23:59:59.999000Z'],
    [utc(2024, 2, 29, 0, 0, 1), '2024-02-29T00:00:01Z'],
    [new Date(0), '1970-01-01T00:00:00Z'],
  ];
  for (const [d, want] of cases) t.equal(isoformat(d), want, String(d?.toISOString?.() ?? d));
});

t.test('isoformat output matches the JupyterHub pattern and parses back', async (t) => {
  const re = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{6})?Z$/;
  for (const ms of [0, 1, 999, 1714564800123, 1714564800000]) {
    const s = isoformat(new Date(ms))!;
    t.match(s, re, s);
    t.equal(parseTimestamp(s)?.getTime(), ms, `round trip ${s}`);
  }
});

t.test('parseTimestamp accepts what clients send', async (t) => {
  const noon = utc(2024, 5, 1, 12).getTime();
  const cases: Array<[string, number]> = [
    ['2024-05-01T12:00:00Z', noon],
    ['2024-05-01T12:00:00.000000Z', noon],
    ['2024-05-01T12:00:00.123456Z', noon + 123],
    ['2024-05-01T12:00:00.5Z', noon + 500],
    ['2024-05-01T12:00:00', noon],
    ['2024-05-01T12:00', noon],
    ['2024-05-01 12:00:00', noon],
    ['2024-05-01T14:00:00+02:00', noon],
    ['2024-05-01T14:00:00+0200', noon],
    ['2024-05-01T07:30:00-04:30', noon],
    ['2024-05-01T12:00:00+00:00', noon],
    ['2024-05-01T12:00:00.250+01:00', noon - 3600_000 + 250],
    [' 2024-05-01T12:00:00Z ', noon],
  ];
  for (const [s, want] of cases) t.equal(parseTimestamp(s)?.getTime(), want, JSON.stringify(s));
});

t.test('parseTimestamp rejects non-timestamps with null', async (t) => {
  const bad: unknown[] = [
    undefined, null, 0, 1714564800, {}, [], true, '', 'now', 'garbage', '2024', '2024-05-01', '2024-05-01T', '12:00:00',
    '2024-5-1T12:00:00Z', '2024-05-01T12:00:00ZZ', '2024-05-01T12:00:00 UTC', '2024-05-01T12:00:00+2', '2024/05/01 12:00:00',
    '2024-05-01T12:00:00Z; DROP TABLE users', '2024-05-01T12:00:00Z'.padEnd(65, ' '), '2024-05-01T12:00:00.' + '1'.repeat(100) + 'Z',
    'x'.repeat(100_000),
  ];
  for (const v of bad) t.equal(parseTimestamp(v), null, JSON.stringify(v)?.slice(0, 60));
});

t.test('parseTimestamp rejects impossible dates instead of rolling them over', async (t) => {
  // dateutil (JupyterHub's parse_date) raises on these, so the activity API answers 400.
  for (const v of ['2024-13-01T00:00:00Z', '2024-02-30T00:00:00Z', '2024-05-01T25:00:00Z', '2024-05-01T12:61:00Z', '2024-00-10T00:00:00Z']) {
    t.equal(parseTimestamp(v), null, v);
  }
});
