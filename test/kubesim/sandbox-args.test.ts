import { describe, expect, it } from 'vitest';
import { defaultStateDir, main, parseArgs, UsageError } from '../../sandbox/main.js';

describe('sandbox CLI arguments', () => {
  it('defaults the state dir under XDG_CACHE_HOME or ~/.cache', () => {
    expect(defaultStateDir({ XDG_CACHE_HOME: '/c' })).toBe('/c/gantry/sandbox');
    expect(defaultStateDir({})).toMatch(/\/\.cache\/gantry\/sandbox$/);
  });

  it('parses commands and options', () => {
    expect(
      parseArgs(['up', '--json', '--clock-speed', '10', '--state-dir=/tmp/s', '--tls'], {}),
    ).toMatchObject({ command: 'up', json: true, clockSpeed: 10, stateDir: '/tmp/s', tls: true });
    expect(parseArgs(['status'], { XDG_CACHE_HOME: '/x' })).toMatchObject({
      command: 'status',
      json: false,
      clockSpeed: 1,
      stateDir: '/x/gantry/sandbox',
    });
  });

  it.each([
    [['up', '--clock-speed', '0']],
    [['launch']],
    [[]],
    [['up', '--bogus']],
    [['up', 'extra']],
    [['up', '--state-dir']],
  ])('rejects %j', (argv) => {
    expect(() => parseArgs(argv, {})).toThrow(UsageError);
  });

  it('main returns 2 on bad input without touching anything', async () => {
    const err: string[] = [];
    expect(await main(['up', '--clock-speed', 'x'], { out: () => undefined, err: (l) => err.push(l) })).toBe(
      2,
    );
    expect(err.join('\n')).toContain('--clock-speed must be a positive number');
  });
});
