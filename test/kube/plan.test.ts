import { describe, expect, it } from 'vitest';
import { isGantryError } from '../../src/core/errors.js';
import { defaultChangeCause, planDeploy, runUrlFromEnv, type DeployMetadata } from '../../src/kube/plan.js';
import { parseBuiltImages, parseDeployTargets } from '../../src/kube/targets.js';
import type { Deployment } from '../../src/kube/types.js';

const D1 = 'sha256:' + '1'.repeat(64);
const D2 = 'sha256:' + '2'.repeat(64);
const meta: DeployMetadata = {
  changeCause: 'deploy abc1234',
  runId: 'run-1',
  commit: 'abc1234',
  runUrl: 'https://git/x/actions/runs/1',
  at: '2025-01-10T10:00:00Z',
};

function dep(
  name: string,
  containers: { name: string; image: string }[],
  extra: Partial<Deployment['spec']> = {},
  init?: { name: string; image: string }[],
): Deployment {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: {
      name,
      namespace: 'prod',
      resourceVersion: '41',
      generation: 3,
      annotations: { 'deployment.kubernetes.io/revision': '3' },
    },
    spec: {
      replicas: 1,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: { containers, ...(init ? { initContainers: init } : {}) },
      },
      ...extra,
    },
  };
}

describe('parseDeployTargets', () => {
  it('parses deployment[/container]=image lines and build targets', () => {
    const images = parseBuiltImages(
      JSON.stringify([
        { target: 'worker', image: '127.0.0.1:5000/worker', digest: D2, ref: `127.0.0.1:5000/worker@${D2}` },
      ]),
    );
    const t = parseDeployTargets(['api=127.0.0.1:5000/api:v2', 'worker/main=worker'], images);
    expect(t).toEqual([
      {
        deployment: 'api',
        image: { domain: '127.0.0.1:5000', path: 'api', tag: 'v2' },
        source: 'api=127.0.0.1:5000/api:v2',
      },
      {
        deployment: 'worker',
        container: 'main',
        image: { domain: '127.0.0.1:5000', path: 'worker', digest: D2 },
        source: 'worker/main=worker',
      },
    ]);
  });
  it.each([
    ['api', 'has no "="'],
    ['api=', 'names no image'],
    ['API=nginx', 'not a valid deployment name'],
    ['api/c/d=nginx', 'more than one "/"'],
    ['api=Nginx:1', 'invalid image reference'],
  ])('refuses %s with a ConfigurationError naming the input', (line, problem) => {
    try {
      parseDeployTargets([line]);
      expect.fail('should throw');
    } catch (e) {
      expect(isGantryError(e, 'configuration')).toBe(true);
      expect((e as Error).message).toContain('input "deployments"');
      expect((e as Error).message).toContain(problem);
    }
  });
  it('refuses duplicates and an empty list', () => {
    expect(() => parseDeployTargets(['api=a:1', 'api=a:2'])).toThrow(/repeats/);
    expect(() => parseDeployTargets([])).toThrow(/required/);
  });
  it('refuses an images input that is not JSON', () => {
    expect(() => parseBuiltImages('nope')).toThrow(/input "images" is not JSON/);
  });
});

describe('planDeploy', () => {
  const api = dep('api', [{ name: 'api', image: `127.0.0.1:5000/api@${D1}` }]);
  const worker = dep(
    'worker',
    [
      { name: 'main', image: '127.0.0.1:5000/worker:v1' },
      { name: 'sidecar', image: 'envoy:1' },
    ],
    {},
    [{ name: 'migrate', image: '127.0.0.1:5000/worker:v1' }],
  );
  const deployments = new Map([
    ['api', api],
    ['worker', worker],
  ]);

  it('patches like kubectl set image, pinned by digest, with change-cause, gantry annotations and a resourceVersion guard', () => {
    const targets = parseDeployTargets([
      `worker/main=127.0.0.1:5000/worker:v2`,
      `worker/migrate=127.0.0.1:5000/worker:v2`,
    ]);
    const plan = planDeploy({
      targets,
      digests: new Map([['127.0.0.1:5000/worker:v2', D2]]),
      deployments,
      metadata: meta,
    });
    expect(plan.problems).toEqual([]);
    const w = plan.deployments[0]!;
    expect(w.changed).toBe(true);
    expect(w.patch).toEqual({
      metadata: {
        resourceVersion: '41',
        annotations: {
          'kubernetes.io/change-cause': 'deploy abc1234',
          'gantry.dev/run-id': 'run-1',
          'gantry.dev/deployed-at': '2025-01-10T10:00:00Z',
          'gantry.dev/commit': 'abc1234',
          'gantry.dev/run-url': 'https://git/x/actions/runs/1',
        },
      },
      spec: {
        template: {
          spec: {
            '$setElementOrder/containers': [{ name: 'main' }, { name: 'sidecar' }],
            containers: [{ image: `127.0.0.1:5000/worker@${D2}`, name: 'main' }],
            '$setElementOrder/initContainers': [{ name: 'migrate' }],
            initContainers: [{ image: `127.0.0.1:5000/worker@${D2}`, name: 'migrate' }],
          },
        },
      },
    });
    expect(w.previous).toMatchObject({
      revision: '3',
      resourceVersion: '41',
      images: { main: '127.0.0.1:5000/worker:v1', sidecar: 'envoy:1', migrate: '127.0.0.1:5000/worker:v1' },
    });
    expect(w.previous.template).toEqual(worker.spec!.template);
    expect(w.containers.map((c) => [c.container, c.init, c.from, c.to])).toEqual([
      ['main', false, '127.0.0.1:5000/worker:v1', `127.0.0.1:5000/worker@${D2}`],
      ['migrate', true, '127.0.0.1:5000/worker:v1', `127.0.0.1:5000/worker@${D2}`],
    ]);
  });

  it('leaves a deployment already at the target digest alone', () => {
    const targets = parseDeployTargets([`api=127.0.0.1:5000/api:v1`]);
    const plan = planDeploy({
      targets,
      digests: new Map([['127.0.0.1:5000/api:v1', D1]]),
      deployments,
      metadata: meta,
    });
    expect(plan.deployments[0]).toMatchObject({ name: 'api', changed: false });
    expect(plan.deployments[0]!.patch).toBeUndefined();
  });

  it('reports missing deployments and containers, ambiguity and paused deployments', () => {
    const paused = dep('paused', [{ name: 'p', image: 'x:1' }], { paused: true });
    const targets = parseDeployTargets(['nope=a:1', 'worker=a:1', 'api/db=a:1', 'paused=a:1']);
    const plan = planDeploy({
      targets,
      digests: new Map([['docker.io/library/a:1', D1]]),
      deployments: new Map([...deployments, ['paused', paused]]),
      metadata: meta,
    });
    expect(plan.problems.map((p) => p.kind)).toEqual([
      'missing-deployment',
      'ambiguous-container',
      'missing-container',
      'paused',
    ]);
    expect(plan.problems[1]!.message).toContain('has 2 containers (main, sidecar)');
    expect(plan.problems[2]!.message).toBe('deployment "api" has no container "db" (it has: api)');
    expect(plan.problems[3]!.message).toContain('kubectl rollout resume');
  });
});

describe('change cause and run URL', () => {
  const env = {
    GITHUB_SHA: 'abc1234def',
    GITHUB_ACTOR: 'alice',
    GITHUB_SERVER_URL: 'https://gitea.example',
    GITHUB_REPOSITORY: 'org/app',
    GITHUB_RUN_ID: '42',
  };
  it('derives the run URL from the server URL (Gitea and GitHub alike)', () => {
    expect(runUrlFromEnv(env)).toBe('https://gitea.example/org/app/actions/runs/42');
    expect(runUrlFromEnv({})).toBeUndefined();
  });
  it('short SHA, actor and run URL', () => {
    expect(defaultChangeCause(env, ['api:v2'])).toBe(
      'gantry deploy api:v2 · commit abc1234 · by alice · https://gitea.example/org/app/actions/runs/42',
    );
  });
});
