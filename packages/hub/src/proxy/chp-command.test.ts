import t from 'tap';
import { existsSync } from 'node:fs';
import { chpBinPath, defaultChpCommand, withoutPreloads } from './chp-command.js';

t.test('withoutPreloads drops loader flags and keeps the rest', async (t) => {
  const cases: Array<[string, string]> = [
    ['', ''],
    ['--max-old-space-size=512', '--max-old-space-size=512'],
    ['"--import=file:///x/processinfo/import.mjs"', ''],
    ['--import tsx --enable-source-maps', '--enable-source-maps'],
    ['-r dotenv/config --max-old-space-size=64 --require=foo', '--max-old-space-size=64'],
    ['--loader ts-node/esm --experimental-loader=x --trace-warnings', '--trace-warnings'],
    ['--title "my hub" --import=a', '--title "my hub"'],
  ];
  for (const [input, expected] of cases) t.equal(withoutPreloads(input), expected, input);
});

t.test('defaultChpCommand runs the installed CHP with this node, without preloads', async (t) => {
  t.ok(existsSync(chpBinPath()), 'CHP bin resolved');
  const cmd = defaultChpCommand('--import=x --max-old-space-size=64');
  t.same(cmd.slice(-2), [process.execPath, chpBinPath()]);
  if (existsSync('/usr/bin/env')) {
    t.same(cmd.slice(0, 4), ['/usr/bin/env', '-u', 'NODE_OPTIONS', 'NODE_OPTIONS=--max-old-space-size=64']);
    t.same(defaultChpCommand('--import=x'), ['/usr/bin/env', '-u', 'NODE_OPTIONS', process.execPath, chpBinPath()]);
  }
});
