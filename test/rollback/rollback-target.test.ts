/**
 * The rollback decision, table-driven: where each `to` goes, what it refuses, and the flip-flop
 * trap of `kubectl rollout undo` (a second undo brings the broken release back) that `previous`
 * must not fall into. kubectl's own revision semantics come from the conformance table
 * (kubernetes/kubectl rollback.go + history_test.go fixtures).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ConfigurationError } from '../../src/core/errors.js';
import { markRolledBack, type HistoryRecord } from '../../src/kube/history.js';
import {
  chooseRollbackTarget,
  currentRelease,
  parseRollbackTo,
  resolveDeploymentNames,
  targetTemplate,
  type RollbackTo,
  type RunningDeployment,
  type RunningReplicaSet,
} from '../../src/kube/rollback-target.js';
import type { Deployment, PodTemplateSpec, ReplicaSet } from '../../src/kube/types.js';

const img = (v: string): string => `reg.example/app@sha256:${v.padEnd(64, '0')}`;
const tpl = (image: string, extra: Record<string, unknown> = {}, hash?: string): PodTemplateSpec => ({
  metadata: { labels: { app: 'api', ...(hash ? { 'pod-template-hash': hash } : {}) } },
  spec: { containers: [{ name: 'api', image, ...extra }] },
});
const rs = (revision: number, image: string, extra: Record<string, unknown> = {}): RunningReplicaSet => ({
  name: `api-${revision}`,
  revision,
  template: tpl(image, extra, `h${revision}`),
});

function record(
  id: string,
  before: string,
  after: string,
  o: Partial<HistoryRecord> & { name?: string; revisionBefore?: string; revisionAfter?: string } = {},
): HistoryRecord {
  const { name = 'api', revisionBefore, revisionAfter, ...rest } = o;
  return {
    id,
    startedAt: '2025-01-10T10:00:00Z',
    finishedAt: '2025-01-10T10:01:00Z',
    durationMs: 60_000,
    result: 'succeeded',
    changeCause: `deploy ${id}`,
    deployments: [
      {
        name,
        changed: before !== after,
        result: before !== after ? 'succeeded' : 'unchanged',
        ...(revisionBefore ? { revisionBefore } : {}),
        ...(revisionAfter ? { revisionAfter } : {}),
        images: [{ container: 'api', init: false, before, after }],
      },
    ],
    ...rest,
  };
}

const running = (
  image: string,
  replicaSets: RunningReplicaSet[],
  extra: Partial<RunningDeployment> = {},
): RunningDeployment => ({
  name: 'api',
  template: tpl(image),
  replicaSets,
  ...extra,
});

describe('parseRollbackTo', () => {
  it.each<[string | undefined, RollbackTo]>([
    [undefined, { kind: 'previous' }],
    ['', { kind: 'previous' }],
    ['previous', { kind: 'previous' }],
    ['last-good', { kind: 'last-good' }],
    ['revision:3', { kind: 'revision', revision: 3 }],
    ['sha:ABCDEF1', { kind: 'sha', commit: 'abcdef1' }],
    ['image:reg.example/app:v1', { kind: 'image', image: 'reg.example/app:v1' }],
  ])('%s → %o', (text, expected) => {
    expect(parseRollbackTo(text)).toEqual(expected);
  });
  it.each(['revision:0', 'revision:x', 'sha:abc', 'image:', 'latest', 'tag:v1'])(
    '%s is refused naming the input',
    (text) => {
      expect(() => parseRollbackTo(text)).toThrow(ConfigurationError);
      expect(() => parseRollbackTo(text)).toThrow(/input "to"/);
    },
  );
});

describe('chooseRollbackTarget: previous', () => {
  const history = [
    record('d1', img('a0'), img('a1'), { revisionBefore: '1' }),
    record('d2', img('a1'), img('a2'), { revisionBefore: '2' }),
  ];
  const rss = [
    rs(1, img('a0')),
    rs(2, img('a1'), { env: [{ name: 'MODE', value: 'v1' }] }),
    rs(3, img('a2')),
  ];

  it('goes to the "before" of the latest deploy, with the full template of the ReplicaSet that ran it', () => {
    const { targets, problems } = chooseRollbackTarget(history, [running(img('a2'), rss, { revision: 3 })], {
      kind: 'previous',
    });
    expect(problems).toEqual([]);
    expect(targets).toHaveLength(1);
    const t = targets[0]!;
    expect(t).toMatchObject({
      deployment: 'api',
      images: { api: img('a1') },
      noop: false,
      replicaSet: 'api-2',
      revision: 2,
      reverts: 'd2',
      record: { id: 'd2' },
    });
    // the whole template (env included), pod-template-hash removed, as kubectl rollout undo writes it
    expect(t.template).toEqual(tpl(img('a1'), { env: [{ name: 'MODE', value: 'v1' }] }));
    expect(t.template?.metadata?.labels).not.toHaveProperty('pod-template-hash');
  });

  it('falls back to replacing the images when no ReplicaSet ran them any more', () => {
    const { targets } = chooseRollbackTarget(history, [running(img('a2'), [rs(3, img('a2'))])], {
      kind: 'previous',
    });
    expect(targets[0]).toMatchObject({ images: { api: img('a1') }, noop: false });
    expect(targets[0]!.template).toBeUndefined();
    const current = tpl(img('a2'), { resources: { limits: { memory: '1Gi' } } });
    expect(targetTemplate(current, targets[0]!)).toEqual(
      tpl(img('a1'), { resources: { limits: { memory: '1Gi' } } }),
    );
  });

  it('the flip-flop trap: kubectl undo twice brings the bad release back; previous twice is a no-op', () => {
    // v1 good (rev 1), v2 bad (rev 2) deployed by run d2
    const hist = [record('d1', '', img('v1')), record('d2', img('v1'), img('v2'))];
    let rsList = [rs(1, img('v1')), rs(2, img('v2'))];
    let live = img('v2');
    // kubectl rollout undo = the ReplicaSet with the second-highest revision (rollback.go)
    const kubectlUndo = (list: RunningReplicaSet[]): RunningReplicaSet =>
      [...list].sort((a, b) => b.revision - a.revision)[1]!;

    // first rollback: both agree on v1; the controller reuses RS 1 as revision 3
    const first = chooseRollbackTarget(hist, [running(live, rsList)], { kind: 'previous' }).targets[0]!;
    expect(first.images.api).toBe(img('v1'));
    expect(kubectlUndo(rsList).template.spec?.containers[0]?.image).toBe(img('v1'));
    live = img('v1');
    rsList = [rs(3, img('v1')), rs(2, img('v2'))];
    const after = markRolledBack(
      [...hist, { ...record('rb1', img('v2'), img('v1')), kind: 'rollback' }],
      [{ id: 'd2', deployments: ['api'] }],
      'rb1',
    );

    // second time: kubectl flips back to the broken v2 …
    expect(kubectlUndo(rsList).template.spec?.containers[0]?.image).toBe(img('v2'));
    // … gantry's previous stays where it is
    const second = chooseRollbackTarget(after, [running(live, rsList)], { kind: 'previous' });
    expect(second.problems).toEqual([]);
    expect(second.targets[0]).toMatchObject({ noop: true, images: { api: img('v1') } });
    expect(second.targets[0]!.reverts).toBeUndefined();
  });

  it('skips rollback records and records that never touched the deployment', () => {
    const hist = [
      record('d1', img('a0'), img('a1')),
      record('w1', img('w0'), img('w1'), { name: 'worker' }),
      { ...record('rb', img('a1'), img('a0')), kind: 'rollback' as const },
    ];
    const { targets } = chooseRollbackTarget(hist, [running(img('a0'), [])], { kind: 'previous' });
    expect(targets[0]).toMatchObject({ noop: true, record: { id: 'd1' } });
  });

  it('a deploy that restored itself (atomic) leaves nothing to roll back', () => {
    const hist = [
      record('d1', img('a0'), img('a1')),
      { ...record('d2', img('a1'), img('a2')), result: 'rolled-back' as const },
    ];
    hist[1]!.deployments[0]!.result = 'rolled-back';
    expect(chooseRollbackTarget(hist, [running(img('a1'), [])], { kind: 'previous' }).targets[0]!.noop).toBe(
      true,
    );
  });

  it("the deploy step's previous output and run id take precedence over the latest record", () => {
    const { targets } = chooseRollbackTarget(
      history,
      [running(img('a2'), rss)],
      { kind: 'previous' },
      {
        previous: { api: { revision: '1', images: { api: img('a0') } } },
        previousOf: 'd1',
      },
    );
    expect(targets[0]).toMatchObject({ images: { api: img('a0') }, replicaSet: 'api-1', reverts: 'd1' });
    const byId = chooseRollbackTarget(
      history,
      [running(img('a2'), rss)],
      { kind: 'previous' },
      { previousOf: 'd1' },
    );
    expect(byId.targets[0]).toMatchObject({ images: { api: img('a0') }, reverts: 'd1' });
  });

  it('no deploy in the history is a problem, not a guess', () => {
    const { targets, problems } = chooseRollbackTarget([], [running(img('a2'), rss)], { kind: 'previous' });
    expect(targets).toEqual([]);
    expect(problems).toEqual([expect.objectContaining({ kind: 'no-history', deployment: 'api' })]);
  });
});

describe('chooseRollbackTarget: revision (kubectl conformance)', () => {
  const cases = JSON.parse(
    readFileSync(
      new URL('../../../shared/conformance/kubectl-rollout/rollback_cases.json', import.meta.url),
      'utf8',
    ),
  ) as {
    history_fixture: {
      deployment: Deployment;
      replicasets: ReplicaSet[];
      derived_rollback_expectations: {
        toRevision: number;
        expect_image?: string;
        expect_selected_rs?: string;
        expect?: string;
        expect_error?: string;
      }[];
    };
  };
  const fx = cases.history_fixture;
  const dep: RunningDeployment = {
    name: fx.deployment.metadata.name!,
    template: fx.deployment.spec!.template!,
    replicaSets: fx.replicasets.map((r) => ({
      name: r.metadata.name!,
      revision: Number(r.metadata.annotations!['deployment.kubernetes.io/revision']),
      template: r.spec!.template!,
    })),
  };
  for (const c of fx.derived_rollback_expectations.filter((x) => x.toRevision > 0)) {
    it(`--to-revision=${c.toRevision}`, () => {
      const { targets, problems } = chooseRollbackTarget([], [dep], {
        kind: 'revision',
        revision: c.toRevision,
      });
      if (c.expect_error) {
        expect(problems[0]?.message).toContain(c.expect_error);
        expect(targets).toEqual([]);
      } else if (c.expect?.startsWith('skipped rollback')) {
        expect(targets[0]).toMatchObject({ noop: true, revision: c.toRevision });
      } else {
        expect(targets[0]).toMatchObject({
          noop: false,
          replicaSet: c.expect_selected_rs,
          images: { test: c.expect_image },
        });
      }
    });
  }

  it('restores the ReplicaSet template whole, and names the release it reverts', () => {
    const hist = [record('d1', img('a0'), img('a1')), record('d2', img('a1'), img('a2'))];
    const { targets } = chooseRollbackTarget(
      hist,
      [running(img('a2'), [rs(1, img('a0'), { args: ['--old'] }), rs(2, img('a1')), rs(3, img('a2'))])],
      {
        kind: 'revision',
        revision: 1,
      },
    );
    expect(targets[0]).toMatchObject({
      template: tpl(img('a0'), { args: ['--old'] }),
      reverts: 'd2',
      description: 'revision 1',
    });
  });
});

describe('chooseRollbackTarget: sha, last-good, image', () => {
  const c1 = '1111111aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa';
  const c2 = '2222222bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb';
  const c3 = '3333333ccccccccccccccccccccccccccccccccc';
  const history = [
    record('d1', img('a0'), img('a1'), { commit: c1, revisionAfter: '1' }),
    record('d2', img('a1'), img('a2'), { commit: c2 }),
    { ...record('d2b', img('a2'), img('a9'), { commit: c2 }), result: 'failed' as const },
    record('d3', img('a2'), img('a3'), { commit: c3 }),
  ];
  const rss = [rs(1, img('a1')), rs(2, img('a2')), rs(3, img('a3'))];

  it.each<[string, RollbackTo, string | undefined, string | undefined]>([
    ['sha: a short prefix', { kind: 'sha', commit: '1111111' }, img('a1'), 'd1'],
    [
      'sha: the newest succeeded record of the commit, not a failed one',
      { kind: 'sha', commit: c2 },
      img('a2'),
      'd2',
    ],
    ['sha: unknown commit', { kind: 'sha', commit: 'deadbee' }, undefined, undefined],
    [
      'last-good: the newest succeeded images that differ from the running ones',
      { kind: 'last-good' },
      img('a2'),
      'd2',
    ],
  ])('%s', (_name, to, image, recordId) => {
    const { targets, problems } = chooseRollbackTarget(history, [running(img('a3'), rss)], to);
    if (!image) {
      expect(problems[0]).toMatchObject({ kind: 'no-record' });
      return;
    }
    expect(problems).toEqual([]);
    expect(targets[0]).toMatchObject({
      images: { api: image },
      record: { id: recordId },
      reverts: 'd3',
      noop: false,
    });
  });

  it('last-good never picks a release marked rolled-back', () => {
    // d3 (a3) failed its smoke test and was rolled back to a2: the next last-good is a1, not a3
    const marked = markRolledBack(history, [{ id: 'd3', deployments: ['api'] }], 'rb1');
    const withMark = chooseRollbackTarget(marked, [running(img('a2'), rss)], { kind: 'last-good' });
    expect(withMark.targets[0]).toMatchObject({ images: { api: img('a1') }, record: { id: 'd1' } });
    // without the mark it would have gone "forward" to the broken a3
    const without = chooseRollbackTarget(history, [running(img('a2'), rss)], { kind: 'last-good' });
    expect(without.targets[0]).toMatchObject({ images: { api: img('a3') } });
  });

  it('sha: an ambiguous prefix is refused', () => {
    const h = [
      record('x', img('a0'), img('a1'), { commit: 'abcdef1000' }),
      record('y', img('a1'), img('a2'), { commit: 'abcdef1999' }),
    ];
    expect(
      chooseRollbackTarget(h, [running(img('a2'), [])], { kind: 'sha', commit: 'abcdef1' }).problems[0],
    ).toMatchObject({ kind: 'ambiguous-commit' });
  });

  it('image: one container of one deployment; the only container by default; a no-op when it already runs', () => {
    const t = chooseRollbackTarget(history, [running(img('a3'), rss)], { kind: 'image', image: img('a1') })
      .targets[0]!;
    expect(t).toMatchObject({ images: { api: img('a1') }, noop: false, reverts: 'd3' });
    expect(t.template).toBeUndefined();
    expect(
      chooseRollbackTarget(history, [running(img('a1'), rss)], { kind: 'image', image: img('a1') })
        .targets[0]!.noop,
    ).toBe(true);
  });

  it('image: several containers need a name; two deployments are refused', () => {
    const two: RunningDeployment = {
      name: 'api',
      template: {
        spec: {
          containers: [
            { name: 'api', image: img('a1') },
            { name: 'sidecar', image: img('s1') },
          ],
        },
      },
      replicaSets: [],
    };
    expect(chooseRollbackTarget([], [two], { kind: 'image', image: img('a0') }).problems[0]).toMatchObject({
      kind: 'container',
    });
    const named = chooseRollbackTarget(
      [],
      [two],
      { kind: 'image', image: img('s0') },
      { requested: [{ name: 'api', container: 'sidecar' }] },
    );
    expect(named.targets[0]!.images).toEqual({ api: img('a1'), sidecar: img('s0') });
    expect(
      chooseRollbackTarget([], [two, { ...two, name: 'worker' }], { kind: 'image', image: img('a0') })
        .problems[0],
    ).toMatchObject({
      kind: 'one-deployment',
    });
  });

  it('a paused deployment is refused like kubectl does', () => {
    const { problems } = chooseRollbackTarget(history, [running(img('a3'), rss, { paused: true })], {
      kind: 'last-good',
    });
    expect(problems[0]?.message).toMatch(
      /is paused; resume it first with "kubectl rollout resume deployment\/api"/,
    );
  });
});

describe('helpers', () => {
  it('deployments "all" are those of the latest deploy record', () => {
    const h = [
      record('d1', img('a0'), img('a1')),
      {
        ...record('d2', img('w0'), img('w1'), { name: 'worker' }),
        deployments: [
          ...record('d2', img('w0'), img('w1'), { name: 'worker' }).deployments,
          ...record('d2', img('a1'), img('a1')).deployments,
        ],
      },
      { ...record('rb', img('a1'), img('a0')), kind: 'rollback' as const },
    ];
    expect(resolveDeploymentNames(h, ['all']).deployments.map((d) => d.name)).toEqual(['worker', 'api']);
    expect(resolveDeploymentNames([], ['all']).problem).toMatch(/no deploy record/);
    expect(resolveDeploymentNames([], ['api', 'web/nginx']).deployments).toEqual([
      { name: 'api' },
      { name: 'web', container: 'nginx' },
    ]);
  });

  it('the current release is the newest deploy whose "after" is what runs', () => {
    const h = [
      record('d1', img('a0'), img('a1')),
      record('d2', img('a1'), img('a2')),
      record('d3', img('a2'), img('a3')),
    ];
    expect(currentRelease(h, running(img('a2'), []))?.id).toBe('d2');
    expect(currentRelease(h, running(img('zz'), []))).toBeUndefined();
  });
});
