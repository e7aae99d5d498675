import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatOutputRecord, setActionOutput } from '../../src/actions/outputs.js';
import { runAction } from '../../src/actions/run-action.js';
import { ConfigurationError } from '../../src/core/errors.js';

describe('action outputs', () => {
  it('appends heredoc records to $GITHUB_OUTPUT, multi-line safe', async () => {
    const file = join(await mkdtemp(join(tmpdir(), 'gantry-out-')), 'output');
    setActionOutput('digest', 'sha256:abc', { GITHUB_OUTPUT: file });
    setActionOutput('report', '{\n  "a": 1\n}', { GITHUB_OUTPUT: file });
    const text = await readFile(file, 'utf8');
    const records = [...text.matchAll(/^(\w+)<<(ghadelimiter_[\w-]+)\n([\s\S]*?)\n\2\n/gm)].map((m) => [
      m[1],
      m[3],
    ]);
    expect(records).toEqual([
      ['digest', 'sha256:abc'],
      ['report', '{\n  "a": 1\n}'],
    ]);
  });

  it('refuses a value containing the delimiter and falls back to ::set-output:: without a file', () => {
    expect(() => formatOutputRecord('x', 'a DELIM b', 'DELIM')).toThrow(/contains the delimiter/);
    let out = '';
    setActionOutput('passed', 'a\nb%', {}, (t) => (out += t));
    expect(out).toBe('\n::set-output name=passed::a%0Ab%25\n');
  });

  it('runAction sets outputs masked, maps errors to exit codes and prints "<action> failed" once', async () => {
    const file = join(await mkdtemp(join(tmpdir(), 'gantry-out-')), 'output');
    const env = { GITHUB_OUTPUT: file, INPUT_TOKEN: 'tok-secret-123' };
    const ok = await runAction(
      'demo-action',
      async ({ inputs, logger, setOutput }) => {
        const token = inputs.required('token');
        logger.mask(token);
        setOutput('echo', `token=${token}`);
        setOutput('obj', { a: 1 });
      },
      env,
    );
    expect(ok).toBe(0);
    const text = await readFile(file, 'utf8');
    expect(text).toContain('token=***');
    expect(text).not.toContain('tok-secret-123');
    expect(text).toContain('{"a":1}');

    const writes: string[] = [];
    const orig = process.stdout.write.bind(process.stdout);
    process.stdout.write = ((t: string) => (writes.push(String(t)), true)) as typeof process.stdout.write;
    try {
      const code = await runAction(
        'demo-action',
        async () => {
          throw new ConfigurationError('input "token" is required; set it');
        },
        {},
      );
      expect(code).toBe(2);
    } finally {
      process.stdout.write = orig;
      process.exitCode = 0;
    }
    expect(writes.filter((w) => w.includes('demo-action failed'))).toEqual([
      '::error::demo-action failed: input "token" is required; set it\n',
    ]);
  });
});
