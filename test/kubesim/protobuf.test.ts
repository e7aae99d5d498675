/**
 * kubectl 1.33 POSTs protobuf for `kubectl create …`. The encoder below writes the same wire
 * format (k8s\0 envelope, field numbers of k8s.io/api generated.proto) to check the decoder.
 */
import { describe, expect, it } from 'vitest';
import { decodeKubernetesProtobuf } from '../../sandbox/kubesim/protobuf.js';

type Field = [number, 'str' | 'int' | 'msg', string | number | Buffer];

function varint(n: number): Buffer {
  const out: number[] = [];
  let v = BigInt.asUintN(64, BigInt(n));
  do {
    let b = Number(v & 0x7fn);
    v >>= 7n;
    if (v > 0n) b |= 0x80;
    out.push(b);
  } while (v > 0n);
  return Buffer.from(out);
}

function msg(fields: Field[]): Buffer {
  return Buffer.concat(
    fields.map(([num, kind, value]) => {
      if (kind === 'int') return Buffer.concat([varint((num << 3) | 0), varint(value as number)]);
      const bytes = kind === 'str' ? Buffer.from(value as string) : (value as Buffer);
      return Buffer.concat([varint((num << 3) | 2), varint(bytes.length), bytes]);
    }),
  );
}

const mapEntry = (k: string, v: string): Buffer =>
  msg([
    [1, 'str', k],
    [2, 'str', v],
  ]);

describe('protobuf request bodies', () => {
  it('decodes the Deployment kubectl create sends', () => {
    const labels: Field = [11, 'msg', mapEntry('app', 'web')];
    const deployment = msg([
      [1, 'msg', msg([[1, 'str', 'web'], [3, 'str', ''], labels])],
      [
        2,
        'msg',
        msg([
          [1, 'int', 0],
          [2, 'msg', msg([[1, 'msg', mapEntry('app', 'web')]])],
          [
            3,
            'msg',
            msg([
              [1, 'msg', msg([labels])],
              [
                2,
                'msg',
                msg([
                  [
                    2,
                    'msg',
                    msg([
                      [1, 'str', 'nginx'],
                      [2, 'str', 'nginx:1'],
                      [6, 'msg', msg([[3, 'int', 8080]])],
                      [8, 'msg', Buffer.alloc(0)],
                    ]),
                  ],
                ]),
              ],
            ]),
          ],
          [4, 'msg', Buffer.alloc(0)],
        ]),
      ],
      [3, 'msg', Buffer.alloc(0)],
    ]);
    const envelope = Buffer.concat([
      Buffer.from('k8s\0', 'binary'),
      msg([
        [
          1,
          'msg',
          msg([
            [1, 'str', 'apps/v1'],
            [2, 'str', 'Deployment'],
          ]),
        ],
        [2, 'msg', deployment],
        [3, 'str', ''],
        [4, 'str', ''],
      ]),
    ]);
    expect(decodeKubernetesProtobuf(envelope)).toEqual({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'web', labels: { app: 'web' } },
      spec: {
        replicas: 0, // a pointer field: zero is kept
        selector: { matchLabels: { app: 'web' } },
        template: {
          metadata: { labels: { app: 'web' } },
          spec: {
            containers: [
              { name: 'nginx', image: 'nginx:1', ports: [{ containerPort: 8080 }], resources: {} },
            ],
          },
        },
        strategy: {},
      },
    });
  });

  it('decodes Secret bytes to base64 and IntOrString ports', () => {
    const secret = msg([
      [1, 'msg', msg([[1, 'str', 's']])],
      [
        2,
        'msg',
        msg([
          [1, 'str', 'k'],
          [2, 'str', 'v'],
        ]),
      ],
    ]);
    const env = Buffer.concat([
      Buffer.from('k8s\0', 'binary'),
      msg([
        [
          1,
          'msg',
          msg([
            [1, 'str', 'v1'],
            [2, 'str', 'Secret'],
          ]),
        ],
        [2, 'msg', secret],
      ]),
    ]);
    expect(decodeKubernetesProtobuf(env)).toMatchObject({
      kind: 'Secret',
      data: { k: Buffer.from('v').toString('base64') },
    });
    const svc = msg([
      [
        2,
        'msg',
        msg([
          [
            1,
            'msg',
            msg([
              [3, 'int', 80],
              [
                4,
                'msg',
                msg([
                  [1, 'int', 0],
                  [2, 'int', 8080],
                ]),
              ],
            ]),
          ],
        ]),
      ],
    ]);
    const svcEnv = Buffer.concat([
      Buffer.from('k8s\0', 'binary'),
      msg([
        [
          1,
          'msg',
          msg([
            [1, 'str', 'v1'],
            [2, 'str', 'Service'],
          ]),
        ],
        [2, 'msg', svc],
      ]),
    ]);
    expect(decodeKubernetesProtobuf(svcEnv)).toMatchObject({
      spec: { ports: [{ port: 80, targetPort: 8080 }] },
    });
  });

  it('rejects kinds it has no schema for', () => {
    const env = Buffer.concat([
      Buffer.from('k8s\0', 'binary'),
      msg([
        [
          1,
          'msg',
          msg([
            [1, 'str', 'v1'],
            [2, 'str', 'PersistentVolume'],
          ]),
        ],
        [2, 'msg', Buffer.alloc(0)],
      ]),
    ]);
    expect(() => decodeKubernetesProtobuf(env)).toThrow(/PersistentVolume is not supported/);
    expect(() => decodeKubernetesProtobuf(Buffer.from('{}'))).toThrow(/envelope/);
  });
});
