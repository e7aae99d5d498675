/**
 * Rollback against kubesim + a real registry (clock ×10), deploys made with gantry's own deploy():
 * previous (twice: a no-op the second time), last-good skipping a rolled-back release,
 * revision:N (the full template), sha:<commit>, image:<ref>, a missing target image failing before
 * anything changes, and a SIGTERM that leaves every Deployment either untouched or at its target,
 * with the state recorded. Each namespace is its own history.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { MemoryLogger } from '../../src/core/logging.js';
import type { KubeClient } from '../../src/kube/client.js';
import { resourcePath } from '../../src/kube/client.js';
import { fetchHistory } from '../../src/kube/history.js';
import { registryClient, registryResolver } from '../../src/kube/images.js';
import {
  rollback,
  rollbackExitCode,
  type RollbackOptions,
  type RollbackReport,
} from '../../src/kube/rollback.js';
import { parseRollbackTo } from '../../src/kube/rollback-target.js';
import type { Deployment, KList, ReplicaSet } from '../../src/kube/types.js';
import { runCli } from '../../src/cli/main.js';
import { eventually, imagesOf, startKubeEnv, type KubeEnv } from '../kube/harness.js';

let env: KubeEnv;
beforeAll(async () => {
  env = await startKubeEnv();
});

async function runRollback(
  options: Partial<Omit<RollbackOptions, 'to'>> & { namespace: string; deployments: string[]; to?: string },
  extra: { client?: KubeClient; signal?: AbortSignal; logger?: MemoryLogger } = {},
): Promise<{ report: RollbackReport; logger: MemoryLogger }> {
  const logger = extra.logger ?? new MemoryLogger();
  const reg = registryClient({ env: {} });
  const { to, ...rest } = options;
  try {
    const report = await rollback(
      { timeoutMs: 60_000, dryRun: false, lock: true, to: parseRollbackTo(to), ...rest },
      {
        client: extra.client ?? env.client,
        resolver: registryResolver(reg),
        logger,
        ...(extra.signal ? { signal: extra.signal } : {}),
      },
    );
    return { report, logger };
  } finally {
    reg.close();
  }
}

/** The digest-pinned images of a deploy's targets, by deployment. */
async function deployOk(ns: string, lines: string[], commit?: string): Promise<Record<string, string>> {
  const { report, logger } = await env.deploy({
    namespace: ns,
    lines,
    ...(commit ? { commit } : {}),
    checkPermissions: false,
  });
  expect(report.result, logger.text()).toBe('succeeded');
  return Object.fromEntries(report.deployments.map((d) => [d.name, d.images[0]!.after]));
}

async function listReplicaSets(ns: string): Promise<ReplicaSet[]> {
  return (await env.client.request<KList<ReplicaSet>>({ path: resourcePath('replicasets', ns) })).items;
}

describe('previous', () => {
  it('restores the exact digests before the latest deploy; a second run is a no-op, never a flip back', async () => {
    await env.namespace('prev');
    const v1 = await env.image('prev/api', 'v1');
    await env.createDeployment('prev', { name: 'api', image: v1, replicas: 2 });
    const d1 = await deployOk('prev', [`api=${v1}`]);
    const d2 = await deployOk('prev', [`api=${await env.image('prev/api', 'v2')}`]);
    const bad = await env.getDeployment('prev', 'api');

    const first = await runRollback({ namespace: 'prev', deployments: ['api'], reason: 'smoke test failed' });
    expect(first.report.result, first.logger.text()).toBe('succeeded');
    const after1 = await env.getDeployment('prev', 'api');
    expect(imagesOf(after1)).toEqual([d1.api]);
    expect(after1.metadata.annotations?.['kubernetes.io/change-cause']).toMatch(
      /^gantry rollback to the state before run .*, reverting run .*: smoke test failed$/,
    );
    // the template came back whole from the ReplicaSet that ran v1, which the controller reused
    const rsV1 = (await listReplicaSets('prev')).find(
      (rs) => rs.spec?.template?.spec?.containers[0]?.image === d1.api,
    )!;
    expect(rsV1.metadata.annotations?.['deployment.kubernetes.io/revision']).toBe(
      after1.metadata.annotations?.['deployment.kubernetes.io/revision'],
    );
    expect(Number(after1.metadata.annotations?.['deployment.kubernetes.io/revision'])).toBeGreaterThan(
      Number(bad.metadata.annotations?.['deployment.kubernetes.io/revision']),
    );
    expect(first.report.deployments[0]).toMatchObject({ restoredFrom: 'replicaset', result: 'succeeded' });
    expect(after1.status?.availableReplicas).toBe(2);

    const second = await runRollback({ namespace: 'prev', deployments: ['api'] });
    expect(second.report.result, second.logger.text()).toBe('unchanged');
    const after2 = await env.getDeployment('prev', 'api');
    expect(imagesOf(after2)).toEqual([d1.api]);
    expect(after2.metadata.generation).toBe(after1.metadata.generation);

    const history = await fetchHistory(env.client, 'prev');
    expect(history.map((r) => `${r.kind ?? 'deploy'}:${r.result}`)).toEqual([
      'deploy:succeeded',
      'deploy:rolled-back',
      'rollback:succeeded',
    ]);
    expect(history[2]).toMatchObject({
      reason: 'smoke test failed',
      target: 'previous',
      rollbackOf: [history[1]!.id],
    });
    expect(history[1]).toMatchObject({ rolledBackBy: history[2]!.id });
    expect(d2.api).not.toBe(d1.api);
  });
});

describe('last-good', () => {
  it('skips a release marked rolled-back', async () => {
    await env.namespace('lg');
    const v0 = await env.image('lg/api', 'v0');
    await env.createDeployment('lg', { name: 'api', image: v0, replicas: 1 });
    const d1 = await deployOk('lg', [`api=${await env.image('lg/api', 'v1')}`]);
    const d2 = await deployOk('lg', [`api=${await env.image('lg/api', 'v2')}`]);
    const d3 = await deployOk('lg', [`api=${await env.image('lg/api', 'v3')}`]);
    // v3 fails its smoke test: rolled back to v2, and marked
    expect(
      (await runRollback({ namespace: 'lg', deployments: ['api'], reason: 'smoke' })).report.result,
    ).toBe('succeeded');
    expect(imagesOf(await env.getDeployment('lg', 'api'))).toEqual([d2.api]);
    // last good from v2: not "forward" to the rolled-back v3, but v1
    const { report, logger } = await runRollback({ namespace: 'lg', deployments: ['api'], to: 'last-good' });
    expect(report.result, logger.text()).toBe('succeeded');
    expect(imagesOf(await env.getDeployment('lg', 'api'))).toEqual([d1.api]);
    expect(report.deployments[0]?.images[0]).toMatchObject({ before: d2.api, after: d1.api });
    expect(d3.api).not.toBe(d1.api);
  });
});

describe('revision, sha, image', () => {
  it("revision:N restores that ReplicaSet's whole pod template (env too), without pod-template-hash", async () => {
    await env.namespace('rev');
    const v1 = await env.image('rev/api', 'v1');
    await env.createDeployment('rev', { name: 'api', image: v1, replicas: 1 });
    // revision 2: a hand-made change of env and image (kubectl edit), then revision 3 by gantry
    const live = await env.getDeployment('rev', 'api');
    const v2 = await env.image('rev/api', 'v2');
    live.spec!.template!.spec!.containers[0]!.image = v2;
    live.spec!.template!.spec!.containers[0]!.env = [{ name: 'MODE', value: 'two' }];
    await env.client.request({
      method: 'PUT',
      path: resourcePath('deployments', 'rev', 'api'),
      body: { ...live, status: undefined },
    });
    await eventually(
      async () =>
        (await env.getDeployment('rev', 'api')).status?.updatedReplicas === 1 &&
        (await env.getDeployment('rev', 'api')).status?.availableReplicas === 1,
    );
    await deployOk('rev', [`api=${await env.image('rev/api', 'v3')}`]);

    // dry run first: chosen, checked, accepted by the server — and nothing changed
    const rv = (await env.getDeployment('rev', 'api')).metadata.resourceVersion;
    const dry = await runRollback({ namespace: 'rev', deployments: ['api'], to: 'revision:2', dryRun: true });
    expect(dry.report.result, dry.logger.text()).toBe('planned');
    expect(dry.logger.text()).toContain('the server accepted the rollback to revision 2 (dry run)');
    expect((await env.getDeployment('rev', 'api')).metadata.resourceVersion).toBe(rv);

    const { report, logger } = await runRollback({
      namespace: 'rev',
      deployments: ['api'],
      to: 'revision:2',
      reason: 'bad v3',
    });
    expect(report.result, logger.text()).toBe('succeeded');
    const d = await env.getDeployment('rev', 'api');
    const rs2 = (await listReplicaSets('rev')).find(
      (rs) => rs.spec?.template?.spec?.containers[0]?.image === v2,
    )!;
    expect(d.spec?.template?.spec?.containers[0]).toMatchObject({
      image: v2,
      env: [{ name: 'MODE', value: 'two' }],
    });
    expect(d.spec?.template?.metadata?.labels).toEqual({ app: 'api' });
    expect(rs2.metadata.annotations?.['deployment.kubernetes.io/revision']).toBe('4');
    expect(d.metadata.annotations?.['kubernetes.io/change-cause']).toContain('gantry rollback to revision 2');

    const missing = await runRollback({ namespace: 'rev', deployments: ['api'], to: 'revision:9' }).catch(
      (e: unknown) => e,
    );
    expect(missing).toMatchObject({
      code: 'not-found',
      message: expect.stringContaining('unable to find specified revision 9'),
    });
  });

  it("sha:<commit> restores the images of that commit's succeeded deploy; image:<ref> pins a tag to its digest", async () => {
    await env.namespace('sha');
    const v0 = await env.image('sha/api', 'v0');
    await env.createDeployment('sha', { name: 'api', image: v0, replicas: 1 });
    const c1 = 'a1b2c3d4e5f60718293a4b5c6d7e8f9012345678';
    const d1 = await deployOk('sha', [`api=${await env.image('sha/api', 'v1')}`], c1);
    await deployOk(
      'sha',
      [`api=${await env.image('sha/api', 'v2')}`],
      'ffffffffeeeeeeeeddddddddccccccccbbbbbbbb',
    );

    const bySha = await runRollback({ namespace: 'sha', deployments: ['api'], to: `sha:${c1.slice(0, 8)}` });
    expect(bySha.report.result, bySha.logger.text()).toBe('succeeded');
    const d = await env.getDeployment('sha', 'api');
    expect(imagesOf(d)).toEqual([d1.api]);
    expect(d.metadata.annotations?.['gantry.dev/commit']).toBe(c1);

    const tag = `${env.registry.host}/sha/api:v0`;
    const byImage = await runRollback({ namespace: 'sha', deployments: ['api'], to: `image:${tag}` });
    expect(byImage.report.result, byImage.logger.text()).toBe('succeeded');
    const pinned = imagesOf(await env.getDeployment('sha', 'api'))[0]!;
    expect(pinned).toMatch(new RegExp(`^${env.registry.host}/sha/api@sha256:[0-9a-f]{64}$`));
    expect(byImage.report.deployments[0]?.images[0]?.after).toBe(pinned);

    // a target that cannot become healthy: reported loudly with its cause, exit 1
    const broken = await env.image('sha/api', 'crash', 'crashloop');
    const failed = await runRollback({ namespace: 'sha', deployments: ['api'], to: `image:${broken}` });
    expect(failed.report.result).toBe('failed');
    expect(rollbackExitCode(failed.report)).toBe(1);
    expect(failed.report.failure).toMatchObject({
      reason: 'CrashLoopBackOff',
      deployment: 'api',
      pod: expect.stringMatching(/^api-/),
    });
    expect(failed.logger.text()).toMatch(
      /error: the rollback did NOT become healthy:\nCrashLoopBackOff: deployment api, pod api-/,
    );
    expect((await fetchHistory(env.client, 'sha')).at(-1)).toMatchObject({
      kind: 'rollback',
      result: 'failed',
      failure: { reason: 'CrashLoopBackOff' },
    });
  });
});

describe('all or nothing', () => {
  it('two deployments, one target image missing: fails (exit 1) before changing anything', async () => {
    await env.namespace('miss');
    const a0 = await env.image('miss/api', 'v0');
    const w0 = await env.image('miss/worker', 'v0');
    await env.createDeployment('miss', { name: 'api', image: a0, replicas: 1 });
    await env.createDeployment('miss', { name: 'worker', image: w0, replicas: 1 });
    await deployOk('miss', [
      `api=${await env.image('miss/api', 'v1')}`,
      `worker=${await env.image('miss/worker', 'v1')}`,
    ]);
    const before = await Promise.all(['api', 'worker'].map((n) => env.getDeployment('miss', n)));
    const previous = JSON.stringify({
      api: { images: { api: a0 } },
      worker: { images: { worker: `${env.registry.host}/miss/worker@sha256:${'0'.repeat(64)}` } },
    });
    const out: string[] = [];
    const err: string[] = [];
    const code = await runCli(
      [
        'rollback',
        '--kubeconfig',
        env.kubesim.kubeconfig,
        '--namespace',
        'miss',
        '--previous',
        previous,
        '--json',
      ],
      {
        stdout: (t) => out.push(t),
        stderr: (t) => err.push(t),
        env: {},
      },
    );
    expect(code, err.join('')).toBe(1);
    expect(err.join('')).toMatch(
      /rollback target image not found in the registry: .*miss\/worker@sha256:0{64}/,
    );
    expect(err.join('')).toContain('nothing was changed');
    const after = await Promise.all(['api', 'worker'].map((n) => env.getDeployment('miss', n)));
    for (const [i, d] of after.entries()) {
      expect(d.metadata.resourceVersion).toBe(before[i]!.metadata.resourceVersion);
    }
    expect((await fetchHistory(env.client, 'miss')).some((r) => r.kind === 'rollback')).toBe(false);
  });
});

describe('SIGTERM', () => {
  it('a rollback interrupted after its first write still writes the other, and records a consistent state', async () => {
    await env.namespace('term');
    const a1 = await env.image('term/api', 'v1', 'slow-start=30');
    const w1 = await env.image('term/worker', 'v1', 'slow-start=30');
    await env.createDeployment('term', {
      name: 'api',
      image: await env.image('term/api', 'v0'),
      replicas: 1,
    });
    await env.createDeployment('term', {
      name: 'worker',
      image: await env.image('term/worker', 'v0'),
      replicas: 1,
    });
    const good = await deployOk('term', [`api=${a1}`, `worker=${w1}`]);
    const bad = await deployOk('term', [
      `api=${await env.image('term/api', 'v2')}`,
      `worker=${await env.image('term/worker', 'v2')}`,
    ]);

    // SIGTERM lands the moment the first Deployment write has been answered; the second write is
    // held until then, and (like the real client) refused if it carries the aborted signal
    const controller = new AbortController();
    const aborted = new Promise<void>((resolve) =>
      controller.signal.addEventListener('abort', () => resolve()),
    );
    let writes = 0;
    const interrupting: KubeClient = {
      server: env.client.server,
      async request<T>(req: Parameters<KubeClient['request']>[0]): Promise<T> {
        const write = req.method === 'PUT' && req.path.includes('/deployments/');
        if (write && writes++ > 0) {
          await aborted;
          if (req.signal?.aborted) throw req.signal.reason;
        }
        const res = await env.client.request<T>(req);
        if (write && !controller.signal.aborted) controller.abort(new Error('received SIGTERM'));
        return res;
      },
      requestText: (req) => env.client.requestText(req),
      watch: (req, onEvent) => env.client.watch(req, onEvent),
    };
    const { report, logger } = await runRollback(
      { namespace: 'term', deployments: ['all'], reason: 'cancelled test' },
      { client: interrupting, signal: controller.signal },
    );
    expect(controller.signal.aborted).toBe(true);
    expect(report.cancelled, logger.text()).toBe(true);
    expect(report.result).toBe('failed');
    expect(rollbackExitCode(report)).toBe(3);
    // consistent: every Deployment is entirely at its target (none half-way, none left behind)
    for (const name of ['api', 'worker']) {
      const d: Deployment = await env.getDeployment('term', name);
      expect(imagesOf(d)).toEqual([good[name]]);
    }
    // recorded: the rollback (cancelled, what it wrote) and the reverted release
    const history = await fetchHistory(env.client, 'term');
    const rec = history.at(-1)!;
    expect(rec).toMatchObject({
      kind: 'rollback',
      cancelled: true,
      result: 'failed',
      reason: 'cancelled test',
    });
    expect(rec.deployments.map((d) => [d.name, d.images[0]?.after])).toEqual([
      ['api', good.api],
      ['worker', good.worker],
    ]);
    expect(
      history.find((r) => r.id === rec.rollbackOf?.[0])?.deployments.every((d) => d.result === 'rolled-back'),
    ).toBe(true);
    expect(bad.api).not.toBe(good.api);
    // the rollout goes on in the cluster and converges to the good version
    await eventually(
      async () =>
        (await env.getDeployment('term', 'api')).status?.availableReplicas === 1 &&
        (await env.getDeployment('term', 'api')).status?.updatedReplicas === 1,
      30_000,
      'api healthy',
    );
  });
});
