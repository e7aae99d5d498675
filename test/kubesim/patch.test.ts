import { describe, expect, it } from 'vitest';
import {
  applyJsonPatch,
  applyMergePatch,
  applyStrategicMergePatch,
  listMergeKey,
  PatchError,
  type Json,
} from '../../sandbox/kubesim/patch.js';

const deployment = (): Json => ({
  metadata: { name: 'x', labels: { app: 'x' }, annotations: { keep: 'me' } },
  spec: {
    paused: true,
    template: {
      metadata: { labels: { app: 'x' } },
      spec: {
        containers: [
          {
            name: 'c',
            image: 'img:1',
            ports: [{ containerPort: 80, protocol: 'TCP' }],
            env: [{ name: 'A', value: '1' }],
          },
          { name: 'sidecar', image: 'side:1' },
        ],
        tolerations: [{ key: 'a' }],
      },
    },
  },
});

describe('strategic merge patch', () => {
  it("merges kubectl set image's patch by container name and honours $setElementOrder", () => {
    // exactly what `kubectl set image deployment/x c=img:2` sends
    const patch: Json = {
      spec: {
        template: {
          spec: {
            '$setElementOrder/containers': [{ name: 'c' }, { name: 'sidecar' }],
            containers: [{ image: 'img:2', name: 'c' }],
          },
        },
      },
    };
    const out = applyStrategicMergePatch(deployment(), patch) as {
      spec: { template: { spec: { containers: { name: string; image: string; ports?: unknown[] }[] } } };
    };
    const cs = out.spec.template.spec.containers;
    expect(cs.map((c) => [c.name, c.image])).toEqual([
      ['c', 'img:2'],
      ['sidecar', 'side:1'],
    ]);
    expect(cs[0]!.ports).toEqual([{ containerPort: 80, protocol: 'TCP' }]);
  });

  it('reorders by $setElementOrder and appends new list items', () => {
    const patch: Json = {
      spec: {
        template: {
          spec: {
            '$setElementOrder/containers': [{ name: 'sidecar' }, { name: 'c' }, { name: 'new' }],
            containers: [{ name: 'new', image: 'n:1' }],
          },
        },
      },
    };
    const out = applyStrategicMergePatch(deployment(), patch) as {
      spec: { template: { spec: { containers: { name: string }[] } } };
    };
    expect(out.spec.template.spec.containers.map((c) => c.name)).toEqual(['sidecar', 'c', 'new']);
  });

  it('null deletes a key (rollout resume), maps merge (rollout restart)', () => {
    const out = applyStrategicMergePatch(deployment(), {
      spec: {
        paused: null,
        template: {
          metadata: { annotations: { 'kubectl.kubernetes.io/restartedAt': '2025-01-01T00:00:00Z' } },
        },
      },
    }) as { spec: { paused?: boolean; template: { metadata: { labels: object; annotations: object } } } };
    expect(out.spec.paused).toBeUndefined();
    expect(out.spec.template.metadata).toEqual({
      labels: { app: 'x' },
      annotations: { 'kubectl.kubernetes.io/restartedAt': '2025-01-01T00:00:00Z' },
    });
  });

  it('merges nested lists by their own keys (env by name, ports by containerPort)', () => {
    const out = applyStrategicMergePatch(deployment(), {
      spec: {
        template: {
          spec: {
            containers: [
              {
                name: 'c',
                env: [
                  { name: 'B', value: '2' },
                  { name: 'A', value: 'changed' },
                ],
                ports: [{ containerPort: 9090 }],
              },
            ],
          },
        },
      },
    }) as { spec: { template: { spec: { containers: { env: unknown[]; ports: unknown[] }[] } } } };
    const c = out.spec.template.spec.containers[0]!;
    expect(c.env).toEqual([
      { name: 'A', value: 'changed' },
      { name: 'B', value: '2' },
    ]);
    expect(c.ports).toEqual([{ containerPort: 80, protocol: 'TCP' }, { containerPort: 9090 }]);
  });

  it('replaces atomic lists and supports $patch directives', () => {
    const out = applyStrategicMergePatch(deployment(), {
      spec: {
        template: {
          spec: { tolerations: [{ key: 'b' }], containers: [{ name: 'sidecar', $patch: 'delete' }] },
        },
      },
      metadata: { annotations: { $patch: 'replace', only: 'this' } },
    }) as {
      metadata: { annotations: object };
      spec: { template: { spec: { tolerations: unknown[]; containers: { name: string }[] } } };
    };
    expect(out.spec.template.spec.tolerations).toEqual([{ key: 'b' }]);
    expect(out.spec.template.spec.containers.map((c) => c.name)).toEqual(['c']);
    expect(out.metadata.annotations).toEqual({ only: 'this' });
  });

  it('knows the merge keys of the shapes kubectl sends', () => {
    expect(listMergeKey(['spec', 'template', 'spec', 'containers'])).toBe('name');
    expect(listMergeKey(['spec', 'template', 'spec', 'containers', 'ports'])).toBe('containerPort');
    expect(listMergeKey(['spec', 'ports'])).toBe('port');
    expect(listMergeKey(['spec', 'template', 'spec', 'tolerations'])).toBeUndefined();
  });

  it('does not modify its input', () => {
    const orig = deployment();
    const copy = JSON.parse(JSON.stringify(orig)) as Json;
    applyStrategicMergePatch(orig, { spec: { paused: null } });
    expect(orig).toEqual(copy);
  });
});

describe('JSON merge patch', () => {
  it('follows RFC 7386', () => {
    expect(applyMergePatch({ a: 'b', c: { d: 'e', f: 'g' } }, { a: 'z', c: { f: null } })).toEqual({
      a: 'z',
      c: { d: 'e' },
    });
    expect(applyMergePatch({ a: [1, 2] }, { a: [3] })).toEqual({ a: [3] });
  });
});

describe('JSON patch', () => {
  it("applies kubectl rollout undo's replace of /spec/template and /metadata/annotations", () => {
    const out = applyJsonPatch(deployment(), [
      {
        op: 'replace',
        path: '/spec/template',
        value: { spec: { containers: [{ name: 'c', image: 'img:0' }] } },
      },
      { op: 'replace', path: '/metadata/annotations', value: { 'deployment.kubernetes.io/revision': '1' } },
    ]) as { metadata: { annotations: object }; spec: { template: object } };
    expect(out.spec.template).toEqual({ spec: { containers: [{ name: 'c', image: 'img:0' }] } });
    expect(out.metadata.annotations).toEqual({ 'deployment.kubernetes.io/revision': '1' });
  });

  it('supports add/remove/move/copy/test and escaped pointers', () => {
    const out = applyJsonPatch({ a: { 'x/y': 1 }, list: [1, 2] }, [
      { op: 'add', path: '/list/-', value: 3 },
      { op: 'add', path: '/list/0', value: 0 },
      { op: 'remove', path: '/list/1' },
      { op: 'copy', from: '/a/x~1y', path: '/b' },
      { op: 'move', from: '/b', path: '/c' },
      { op: 'test', path: '/c', value: 1 },
    ]);
    expect(out).toEqual({ a: { 'x/y': 1 }, list: [0, 2, 3], c: 1 });
  });

  it('fails a test op or a missing path with PatchError', () => {
    expect(() => applyJsonPatch({ a: 1 }, [{ op: 'test', path: '/a', value: 2 }])).toThrow(PatchError);
    expect(() => applyJsonPatch({ a: 1 }, [{ op: 'replace', path: '/b', value: 2 }])).toThrow(/missing/);
    expect(() => applyJsonPatch({ a: 1 }, { op: 'add' })).toThrow(PatchError);
  });
});
