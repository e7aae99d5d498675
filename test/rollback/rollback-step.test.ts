/**
 * The rollback step without a cluster: inputs → options (table), the `previous` input, the action
 * ↔ CLI option parity, the history record a finished rollback writes (which deploy it marks),
 * outputs and summary, and the release chain's exit codes and `previous`.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { rollbackCommand } from '../../src/cli/commands/rollback.js';
import { releaseCommand } from '../../src/cli/commands/release.js';
import { runCli } from '../../src/cli/main.js';
import { ConfigurationError } from '../../src/core/errors.js';
import { Inputs, flagInputSource } from '../../src/core/inputs.js';
import { previousOf, releaseExitCode, type ReleaseReport } from '../../src/kube/release.js';
import { smokeInputs } from '../../src/kube/release-step.js';
import {
  restoredOutput,
  rollbackExitCode,
  rollbackRecord,
  type RollbackReport,
} from '../../src/kube/rollback.js';
import {
  ROLLBACK_INPUT_NAMES,
  parsePreviousInput,
  readRollbackInputs,
  rollbackSummary,
  toRollbackOptions,
  type RollbackInputs,
} from '../../src/kube/rollback-step.js';
import type { RollbackTarget } from '../../src/kube/rollback-target.js';
import type { DeployReport } from '../../src/kube/deploy.js';

const inputs = (flags: Record<string, string>): RollbackInputs =>
  readRollbackInputs(new Inputs(flagInputSource(flags)));

describe('toRollbackOptions', () => {
  it.each<[string, Record<string, string>, Record<string, unknown>]>([
    [
      'defaults: previous, 5m, lock on',
      { deployments: 'api' },
      { to: { kind: 'previous' }, timeoutMs: 300_000, lock: true, dryRun: false, namespace: 'default' },
    ],
    ['all', { deployments: 'all', to: 'last-good' }, { deployments: ['all'], to: { kind: 'last-good' } }],
    [
      'list + reason + revision',
      { deployments: 'api, worker', to: 'revision:4', reason: 'bad', timeout: '90s' },
      {
        deployments: ['api', 'worker'],
        to: { kind: 'revision', revision: 4 },
        reason: 'bad',
        timeoutMs: 90_000,
      },
    ],
    [
      'image: with a container',
      { deployments: 'api/server', to: 'image:reg/app:v1' },
      { deployments: ['api/server'], to: { kind: 'image', image: 'reg/app:v1' } },
    ],
    [
      'deployments from previous',
      { previous: '{"api":{"revision":"3","images":{"api":"reg/app@sha256:' + 'a'.repeat(64) + '"}}}' },
      {
        deployments: ['api'],
        previous: { api: { revision: '3', images: { api: 'reg/app@sha256:' + 'a'.repeat(64) } } },
      },
    ],
    [
      'namespace and dry run',
      { deployments: 'api', namespace: 'prod', 'dry-run': 'true', lock: 'false' },
      { namespace: 'prod', dryRun: true, lock: false },
    ],
  ])('%s', (_name, flags, expected) => {
    expect(toRollbackOptions(inputs(flags), {})).toMatchObject(expected);
  });

  it.each<[string, Record<string, string>, string]>([
    ['no deployments', {}, 'deployments'],
    ['all with names', { deployments: 'all,api' }, 'deployments'],
    ['bad name', { deployments: 'API_x' }, 'deployments'],
    ['container without image:', { deployments: 'api/server' }, 'deployments'],
    ['bad to', { deployments: 'api', to: 'latest' }, 'to'],
    ['previous with another to', { deployments: 'api', to: 'last-good', previous: '{}' }, 'previous'],
    ['previous not JSON', { previous: 'nope' }, 'previous'],
    ['username without password', { deployments: 'api', 'registry-username': 'u' }, 'registry-password'],
  ])('%s → ConfigurationError naming %s', (_name, flags, input) => {
    let err: unknown;
    try {
      toRollbackOptions(inputs(flags), {});
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigurationError);
    expect((err as ConfigurationError).input).toBe(input);
  });

  it('takes the run URL, actor and a run id from the CI environment', () => {
    const o = toRollbackOptions(inputs({ deployments: 'api' }), {
      GITHUB_SERVER_URL: 'https://gitea.example.com',
      GITHUB_REPOSITORY: 'acme/app',
      GITHUB_RUN_ID: '42',
      GITHUB_ACTOR: 'alice',
    });
    expect(o).toMatchObject({
      runUrl: 'https://gitea.example.com/acme/app/actions/runs/42',
      actor: 'alice',
      runId: expect.stringMatching(/^rb-42-1-/),
    });
  });

  it("parsePreviousInput reads k3s-deploy's previous output and refuses what it is not", () => {
    expect(parsePreviousInput(undefined)).toBeUndefined();
    expect(parsePreviousInput('{"api":{"revision":3,"images":{"api":"x@sha256:1"}}}')).toEqual({
      api: { revision: '3', images: { api: 'x@sha256:1' } },
    });
    expect(() => parsePreviousInput('{"api":{"images":{"api":""}}}')).toThrow(/no image for api\/api/);
    expect(() => parsePreviousInput('[]')).toThrow(ConfigurationError);
  });
});

describe('action.yml ↔ gantry rollback', () => {
  const yml = parseYaml(
    readFileSync(new URL('../../actions/rollback/action.yml', import.meta.url), 'utf8'),
  ) as {
    inputs: Record<string, { default?: string }>;
    outputs: Record<string, unknown>;
    runs: { using: string; main: string };
  };
  it('declares the same inputs the step reads and the CLI offers, and the three outputs', () => {
    expect(Object.keys(yml.inputs).sort()).toEqual([...ROLLBACK_INPUT_NAMES].sort());
    expect(rollbackCommand.options.map((o) => o.name).sort()).toEqual([...ROLLBACK_INPUT_NAMES].sort());
    expect(Object.keys(yml.outputs).sort()).toEqual(['report', 'restored', 'result']);
    expect(yml.runs).toEqual({ using: 'node24', main: '../../dist/rollback.js' });
    expect(yml.inputs.to?.default).toBe('previous');
  });
  it('the registry password is never accepted on argv', async () => {
    const err: string[] = [];
    const code = await runCli(['rollback', 'api', '--registry-password', 'hunter2'], {
      stdout: () => {},
      stderr: (t) => err.push(t),
      env: {},
    });
    expect(code).toBe(2);
    expect(err.join('')).toContain('is a secret and is not accepted on the command line');
  });
  it('bad input exits 2 before any cluster is contacted', async () => {
    const err: string[] = [];
    const code = await runCli(['rollback', 'api', '--to', 'revision:zero', '--kubeconfig', '/nonexistent'], {
      stdout: () => {},
      stderr: (t) => err.push(t),
      env: {},
    });
    expect(code).toBe(2);
    expect(err.join('')).toMatch(/--to is "revision:zero"/);
  });
  it('gantry release takes every smoke option under the smoke- prefix', () => {
    const names = releaseCommand.options.map((o) => o.name);
    expect(names).toEqual(
      expect.arrayContaining([
        'deployments',
        'kubeconfig',
        'smoke-url',
        'smoke-checks',
        'smoke-expect-json',
        'rollback-on-failure',
      ]),
    );
    const smoke = smokeInputs(new Inputs(flagInputSource({ 'smoke-url': 'http://x', url: 'http://wrong' })));
    expect(smoke.optional('url')).toBe('http://x');
    expect(smoke.source.label('url')).toBe('--smoke-url');
  });
});

const report = (over: Partial<RollbackReport> = {}): RollbackReport => ({
  result: 'succeeded',
  namespace: 'prod',
  runId: 'rb-1',
  to: 'previous',
  reason: 'smoke test failed',
  startedAt: '2025-01-10T10:00:00.000Z',
  finishedAt: '2025-01-10T10:00:05.000Z',
  durationMs: 5_000,
  dryRun: false,
  cancelled: false,
  reverted: [],
  timings: { preflightMs: 10 },
  deployments: [
    {
      name: 'api',
      result: 'succeeded',
      target: 'the state before run d2',
      restoredFrom: 'replicaset',
      revisionBefore: '3',
      revisionAfter: '4',
      images: [{ container: 'api', init: false, before: 'app@sha256:2', after: 'app@sha256:1' }],
      reverts: 'd2',
      readyMs: 1200,
    },
    {
      name: 'worker',
      result: 'unchanged',
      target: 'the state before run d2',
      restoredFrom: 'images',
      revisionBefore: '7',
      images: [{ container: 'worker', init: false, before: 'w@sha256:1', after: 'w@sha256:1' }],
    },
  ],
  ...over,
});
const targets: RollbackTarget[] = [
  { deployment: 'api', images: { api: 'app@sha256:1' }, noop: false, description: 'x', reverts: 'd2' },
  { deployment: 'worker', images: { worker: 'w@sha256:1' }, noop: true, description: 'x' },
];

describe('the rollback record', () => {
  it('records a rollback and marks the deployments it reverted', () => {
    const { record, marks } = rollbackRecord(report(), targets, { reason: 'smoke test failed' });
    expect(marks).toEqual([{ id: 'd2', deployments: ['api'] }]);
    expect(record).toMatchObject({
      id: 'rb-1',
      kind: 'rollback',
      target: 'previous',
      result: 'succeeded',
      reason: 'smoke test failed',
      rollbackOf: ['d2'],
    });
    expect(record.deployments.map((d) => [d.name, d.changed, d.result])).toEqual([
      ['api', true, 'succeeded'],
      ['worker', false, 'unchanged'],
    ]);
  });
  it('a deployment whose write was refused is not marked; a cancelled run says so', () => {
    const r = report({ cancelled: true, result: 'failed' });
    r.deployments[0] = {
      ...r.deployments[0]!,
      result: 'failed',
      message: 'not rolled back: changed by someone else',
    };
    const { record, marks } = rollbackRecord(r, targets, {});
    expect(marks).toEqual([]);
    expect(record).toMatchObject({ cancelled: true, result: 'failed' });
  });
  it('outputs and exit codes', () => {
    expect(restoredOutput(report())).toEqual({
      api: { images: { api: 'app@sha256:1' }, revision: '4' },
      worker: { images: { worker: 'w@sha256:1' }, revision: '7' },
    });
    expect(rollbackExitCode(report())).toBe(0);
    expect(rollbackExitCode(report({ result: 'unchanged' }))).toBe(0);
    expect(rollbackExitCode(report({ result: 'failed' }))).toBe(1);
    expect(rollbackExitCode(report({ result: 'failed', cancelled: true }))).toBe(3);
    const md = rollbackSummary(report({ reverted: ['d2'] }));
    expect(md).toContain('**Reason:** smoke test failed');
    expect(md).toContain(
      '| api | the state before run d2 | api | `app@sha256:2` → `app@sha256:1` | 4 | 1.20s | ↩️ rolled back |',
    );
    expect(md).toContain('run `d2`');
  });
});

describe('the release chain', () => {
  it('exit codes: only a kept release is 0; a recovered one is still 1', () => {
    const r = (result: ReleaseReport['result']): ReleaseReport => ({ result }) as ReleaseReport;
    expect(
      ['released', 'planned', 'rolled-back', 'failed', 'cancelled'].map((x) =>
        releaseExitCode(r(x as ReleaseReport['result'])),
      ),
    ).toEqual([0, 0, 1, 1, 3]);
  });
  it("previous = the deploy's exact before, changed deployments only", () => {
    const d = {
      deployments: [
        {
          name: 'api',
          changed: true,
          result: 'succeeded',
          revisionBefore: '2',
          images: [{ container: 'api', init: false, before: 'a@1', after: 'a@2', requested: 'a:v2' }],
        },
        {
          name: 'web',
          changed: false,
          result: 'unchanged',
          images: [{ container: 'web', init: false, before: 'w@1', after: 'w@1', requested: 'w:v1' }],
        },
      ],
    } as unknown as DeployReport;
    expect(previousOf(d)).toEqual({ api: { revision: '2', images: { api: 'a@1' } } });
  });
});
