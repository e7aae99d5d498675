import { describe, expect, it } from 'vitest';
import { parseArgs } from '../../src/cli/args.js';
import { commands } from '../../src/cli/commands/index.js';
import { runCli } from '../../src/cli/main.js';
import { ConfigurationError } from '../../src/core/errors.js';

async function cli(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await runCli(argv, { stdout: (t) => (stdout += t), stderr: (t) => (stderr += t), env: {} });
  return { code, stdout, stderr };
}

describe('gantry CLI', () => {
  it('prints help and version', async () => {
    const help = await cli(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/Usage: gantry <command>/);
    expect(help.stdout).toMatch(/Exit codes: 0 ok, 1 the checked thing failed/);
    const version = await cli(['--version']);
    expect(version.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
  });

  it('exits 2 with a usage hint for unknown commands and options, and with no command', async () => {
    const unknown = await cli(['nope']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/unknown command "nope".*gantry --help/);
    const badFlag = await cli(['demo', '--frobnicate']);
    expect(badFlag.code).toBe(2);
    expect(badFlag.stderr).toMatch(/unknown option --frobnicate for "gantry demo"/);
    expect(badFlag.stderr).toMatch(/gantry demo --help/);
    expect((await cli([])).code).toBe(2);
  });

  it('prints per-command help, and rejects bad demo options with exit 2 before starting anything', async () => {
    const help = await cli(['demo', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/Usage: gantry demo/);
    const speed = await cli(['demo', '--clock-speed', 'fast', '--json']);
    expect(speed.code).toBe(2);
    expect(JSON.parse(speed.stdout)).toMatchObject({ error: { code: 'configuration', exitCode: 2 } });
    expect(speed.stderr).toMatch(/--clock-speed is "fast"; use a number from 0.1 to 100/);
    const builder = await cli(['demo', '--builder', 'kaniko']);
    expect(builder.code).toBe(2);
    expect(builder.stderr).toMatch(/--builder is "kaniko"; use one of: buildah, buildx/);
  });
});

describe('command registry', () => {
  it('lists each command once, with the name and summary its module declares', async () => {
    expect(new Set(commands.map((c) => c.name)).size).toBe(commands.length);
    for (const entry of commands) {
      const cmd = await entry.load();
      expect(cmd.name).toBe(entry.name);
      expect(cmd.summary).toBe(entry.summary);
    }
  });
});

describe('parseArgs', () => {
  const specs = [
    { name: 'image', type: 'string' as const, description: 'image' },
    { name: 'tag', type: 'list' as const, description: 'tag' },
    { name: 'push', type: 'boolean' as const, description: 'push' },
    { name: 'password', type: 'string' as const, description: 'use GANTRY_PASSWORD instead', secret: true },
  ];
  it('reads --name value, --name=value, booleans, repeatable lists and positionals', () => {
    const r = parseArgs(
      ['a', '--image', 'x', '--tag=1', '--tag', '2', '--push', 'b', '--', '--not-a-flag'],
      specs,
      't',
    );
    expect(r.flags).toEqual({ image: 'x', tag: '1\n2', push: 'true' });
    expect(r.positionals).toEqual(['a', 'b', '--not-a-flag']);
    expect(parseArgs(['--push=false'], specs, 't').flags.push).toBe('false');
  });

  it('refuses secrets on argv, missing values and bad booleans', () => {
    expect(() => parseArgs(['--password', 'p'], specs, 't')).toThrow(/not accepted on the command line/);
    expect(() => parseArgs(['--image'], specs, 't')).toThrow(/--image needs a value/);
    expect(() => parseArgs(['--image', '--push'], specs, 't')).toThrow(ConfigurationError);
    expect(() => parseArgs(['--push=yes'], specs, 't')).toThrow(/takes true or false/);
    expect(() => parseArgs(['-x'], specs, 't')).toThrow(/unknown option -x/);
  });
});
