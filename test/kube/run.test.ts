import { describe, expect, it } from 'vitest';
import { isGantryError } from '../../src/core/errors.js';
import { Inputs, envInputSource } from '../../src/core/inputs.js';
import type { DeployReport } from '../../src/kube/deploy.js';
import {
  deployExitCode,
  deployOutputs,
  deploySummary,
  readDeployInputs,
  toDeployOptions,
} from '../../src/kube/run.js';

const D = 'sha256:' + 'a'.repeat(64);

function inputs(env: Record<string, string>): Inputs {
  return new Inputs(envInputSource(env));
}

describe('k3s-deploy inputs → options (one table)', () => {
  const ci = {
    GITHUB_SHA: 'abcdef1234',
    GITHUB_ACTOR: 'alice',
    GITHUB_SERVER_URL: 'https://gitea.example',
    GITHUB_REPOSITORY: 'org/app',
    GITHUB_RUN_ID: '7',
  };
  it.each([
    [
      'defaults',
      { INPUT_DEPLOYMENTS: 'api=registry.example/api:v2' },
      {
        namespace: 'default',
        timeoutMs: 600_000,
        atomic: true,
        lock: true,
        lockTimeoutMs: 600_000,
        dryRun: false,
        checkPermissions: true,
        history: true,
        restoreTimeoutMs: 300_000,
        classify: { readyGraceMs: 120_000, unschedulableGraceMs: 30_000 },
      },
    ],
    [
      'everything set',
      {
        INPUT_DEPLOYMENTS: 'api=registry.example/api:v2\nworker/main=registry.example/worker@' + D,
        INPUT_NAMESPACE: 'prod',
        INPUT_TIMEOUT: '5m',
        INPUT_ATOMIC: 'false',
        INPUT_LOCK: 'false',
        'INPUT_LOCK-TIMEOUT': '30s',
        'INPUT_DRY-RUN': 'true',
        'INPUT_CHANGE-CAUSE': 'hotfix',
        INPUT_MIGRATION: 'api',
        'INPUT_MIGRATION-ARGS': '--migrate-only',
        'INPUT_READY-GRACE': '0',
        'INPUT_CHECK-PERMISSIONS': 'false',
        INPUT_HISTORY: 'false',
      },
      {
        namespace: 'prod',
        timeoutMs: 300_000,
        atomic: false,
        lock: false,
        lockTimeoutMs: 30_000,
        dryRun: true,
        changeCause: 'hotfix',
        migration: { kind: 'deployment', deployment: 'api', args: ['--migrate-only'] },
        classify: { readyGraceMs: 0, unschedulableGraceMs: 30_000 },
        checkPermissions: false,
        history: false,
      },
    ],
  ])('%s', (_name, env, expected) => {
    const options = toDeployOptions(readDeployInputs(inputs({ ...ci, ...env })), ci);
    expect(options).toMatchObject(expected);
    expect(options.runUrl).toBe('https://gitea.example/org/app/actions/runs/7');
    expect(options.commit).toBe('abcdef1234');
    expect(options.runId).toMatch(/^7-1-[0-9a-f]{4}$/);
  });
  it('the default change-cause names the images, short SHA, actor and run', () => {
    const o = toDeployOptions(
      readDeployInputs(inputs({ INPUT_DEPLOYMENTS: 'api=registry.example/api:v2' })),
      ci,
    );
    expect(o.changeCause).toBe(
      'gantry deploy registry.example/api:v2 · commit abcdef1 · by alice · https://gitea.example/org/app/actions/runs/7',
    );
  });
  it('the context namespace is the fallback', () => {
    expect(
      toDeployOptions(readDeployInputs(inputs({ INPUT_DEPLOYMENTS: 'api=a:1' })), {}, 'team').namespace,
    ).toBe('team');
  });
  it.each([
    [{ INPUT_DEPLOYMENTS: 'api=a:1', INPUT_TIMEOUT: 'soon' }, 'timeout'],
    [{ INPUT_DEPLOYMENTS: 'api=a:1', INPUT_ATOMIC: 'yes' }, 'atomic'],
    [{}, 'deployments'],
    [{ INPUT_DEPLOYMENTS: 'api=a:1', 'INPUT_REGISTRY-USERNAME': 'u' }, 'registry-password'],
    [{ INPUT_DEPLOYMENTS: 'api=a:1', 'INPUT_MIGRATION-ARGS': '--x' }, 'migration-args'],
    [{ INPUT_DEPLOYMENTS: 'api=a:1', INPUT_IMAGES: '{' }, 'images'],
  ])('bad input %j is a ConfigurationError naming "%s"', (env, input) => {
    try {
      toDeployOptions(readDeployInputs(inputs(env)), {});
      expect.fail('should throw');
    } catch (e) {
      expect(isGantryError(e, 'configuration')).toBe(true);
      expect((e as { input?: string }).input).toBe(input);
    }
  });
});

const report: DeployReport = {
  result: 'rolled-back',
  namespace: 'prod',
  runId: 'r1',
  startedAt: '2025-01-10T10:00:00.000Z',
  finishedAt: '2025-01-10T10:00:20.000Z',
  durationMs: 20_000,
  dryRun: false,
  cancelled: false,
  timings: { preflightMs: 400, lockWaitMs: 10, waitMs: 9_000, restoreMs: 3_000 },
  deployments: [
    {
      name: 'api',
      changed: true,
      result: 'rolled-back',
      revisionBefore: '4',
      revisionAfter: '5',
      images: [
        {
          container: 'api',
          init: false,
          before: 'r/api@sha256:old',
          after: 'r/api@sha256:new',
          requested: 'r/api:v2',
        },
      ],
    },
    {
      name: 'worker',
      changed: false,
      result: 'unchanged',
      revisionBefore: '2',
      images: [
        { container: 'w', init: false, before: 'r/w@sha256:x', after: 'r/w@sha256:x', requested: 'r/w:v2' },
      ],
    },
  ],
  failure: {
    deployment: 'api',
    pod: 'api-1',
    container: 'api',
    reason: 'CrashLoopBackOff',
    message: 'restarted 2 times',
    logs: ['panic: boom'],
    events: ['Warning BackOff: Back-off restarting failed container'],
  },
};

describe('outputs and summary', () => {
  it('previous / deployed / result', () => {
    const out = deployOutputs(report);
    expect(out.previous).toEqual({
      api: { revision: '4', images: { api: 'r/api@sha256:old' } },
      worker: { revision: '2', images: { w: 'r/w@sha256:x' } },
    });
    expect(out.deployed.api).toEqual({ revision: '5', images: { api: 'r/api@sha256:new' }, changed: true });
    expect(out.result).toBe('rolled-back');
    expect(deployExitCode(report)).toBe(1);
    expect(deployExitCode({ ...report, result: 'planned' })).toBe(0);
  });
  it('the summary has a row per container with old → new, time to ready and result, and the cause', () => {
    const md = deploySummary(report);
    expect(md).toContain('| api | api | `r/api@sha256:old` → `r/api@sha256:new` |  | ↩️ rolled back |');
    expect(md).toContain('| worker | w |');
    expect(md).toContain('CrashLoopBackOff: deployment api, pod api-1, container api');
    expect(md).toContain('| panic: boom');
  });
});
