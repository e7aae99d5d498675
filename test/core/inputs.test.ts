import { describe, expect, it } from 'vitest';
import { ConfigurationError } from '../../src/core/errors.js';
import { Inputs, envInputSource, flagInputSource, splitList } from '../../src/core/inputs.js';

const action = (env: Record<string, string>): Inputs => new Inputs(envInputSource(env));
const cli = (flags: Record<string, string>): Inputs => new Inputs(flagInputSource(flags));

function thrown(fn: () => unknown): ConfigurationError {
  try {
    fn();
  } catch (e) {
    if (e instanceof ConfigurationError) return e;
    throw e;
  }
  throw new Error('did not throw');
}

describe('Inputs', () => {
  it('reads INPUT_* names the way runners set them (upper-case, spaces to _, hyphens kept)', () => {
    const i = action({ 'INPUT_BUILD-ARGS': 'A=1', INPUT_MY_INPUT: 'x' });
    expect(i.optional('build-args')).toBe('A=1');
    expect(i.optional('my input')).toBe('x');
  });

  it('returns undefined for absent or blank optional inputs, never empty strings', () => {
    const i = action({ INPUT_TAG: '   ' });
    expect(i.optional('tag')).toBeUndefined();
    expect(i.optional('missing')).toBeUndefined();
    expect(i.string('tag', 'fallback')).toBe('fallback');
  });

  it('names the input in errors: input "x" for actions, --x for the CLI', () => {
    expect(thrown(() => action({}).required('kubeconfig')).message).toBe(
      'input "kubeconfig" is required; set it',
    );
    const e = thrown(() => cli({ timeout: 'soon' }).duration('timeout', '5m'));
    expect(e.message).toMatch(/^--timeout is "soon", not a duration; write it like 90s/);
    expect(e.input).toBe('timeout');
    expect(e.exitCode).toBe(2);
  });

  it('accepts only the YAML core-schema boolean spellings', () => {
    for (const t of ['true', 'True', 'TRUE']) expect(cli({ push: t }).boolean('push', false)).toBe(true);
    for (const f of ['false', 'False', 'FALSE']) expect(cli({ push: f }).boolean('push', true)).toBe(false);
    for (const bad of ['yes', '1', 'on', 'tru']) {
      expect(thrown(() => cli({ push: bad }).boolean('push', false)).message).toMatch(
        /not a boolean; use true or false/,
      );
    }
    expect(cli({}).boolean('push', true)).toBe(true);
    expect(cli({}).optionalBoolean('push')).toBeUndefined();
  });

  it('splits lists on newlines and commas, respecting double quotes', () => {
    expect(splitList('api\nworker, admin\n\n')).toEqual(['api', 'worker', 'admin']);
    expect(splitList('"a,b",c')).toEqual(['a,b', 'c']);
    expect(splitList('"say ""hi""",x')).toEqual(['say "hi"', 'x']);
    expect(cli({ targets: 'api,worker' }).list('targets')).toEqual(['api', 'worker']);
    expect(cli({}).list('targets')).toEqual([]);
    expect(thrown(() => cli({ targets: '"open,x' }).list('targets')).message).toMatch(
      /unbalanced double quote/,
    );
  });

  it('parses durations, whole numbers with ranges, enumerations and key=value maps', () => {
    const i = cli({ timeout: '1h30m', replicas: '3', mode: 'key', labels: 'a=1\nb=x=y', bad: 'novalue' });
    expect(i.duration('timeout', '5m')).toBe(5_400_000);
    expect(i.duration('other', '90s')).toBe(90_000);
    expect(i.int('replicas', 1, { min: 1, max: 10 })).toBe(3);
    expect(thrown(() => i.int('replicas', 1, { max: 2 })).message).toBe('--replicas is 3; use at most 2');
    expect(thrown(() => i.int('replicas', 1, { min: 4 })).message).toBe('--replicas is 3; use at least 4');
    expect(thrown(() => cli({ n: '2.5' }).int('n', 1)).message).toMatch(/not a whole number/);
    expect(i.oneOf('mode', ['key', 'keyless', 'auto'] as const, 'auto')).toBe('key');
    expect(thrown(() => cli({ mode: 'x' }).oneOf('mode', ['key', 'auto'] as const, 'auto')).message).toBe(
      '--mode is "x"; use one of: key, auto',
    );
    expect(i.map('labels')).toEqual({ a: '1', b: 'x=y' });
    expect(thrown(() => i.map('bad')).message).toMatch(/not key=value/);
    expect(thrown(() => cli({ labels: '=orphan' }).map('labels')).message).toMatch(/not key=value/);
  });
});
