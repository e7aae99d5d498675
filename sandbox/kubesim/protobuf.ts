/**
 * Decoding of the Kubernetes protobuf wire format for request bodies. kubectl 1.33's
 * `create deployment|job|namespace|configmap|secret|service` generators POST protobuf
 * (`Content-Type: application/vnd.kubernetes.protobuf`, accepting JSON back), so kubesim reads
 * the `k8s\0` envelope and the message types those generators fill, field numbers from
 * k8s.io/api/*\/generated.proto. Fields outside this schema are skipped.
 */

type FieldKind =
  'string' | 'bytes' | 'int' | 'bool' | { msg: string } | { map: 'string' | 'bytes' | { msg: string } };

interface FieldDef {
  name: string;
  kind: FieldKind;
  repeated?: boolean;
  /** Pointer fields in Go (`*int32`): a zero value is meaningful and kept. */
  keepZero?: boolean;
}

const S = (name: string): FieldDef => ({ name, kind: 'string' });
const I = (name: string, keepZero = false): FieldDef => ({ name, kind: 'int', keepZero });
const B = (name: string): FieldDef => ({ name, kind: 'bool' });
const M = (name: string, msg: string, repeated = false): FieldDef => ({ name, kind: { msg }, repeated });
const MAP = (name: string, value: 'string' | 'bytes' | { msg: string } = 'string'): FieldDef => ({
  name,
  kind: { map: value },
});
const RS = (name: string): FieldDef => ({ name, kind: 'string', repeated: true });

const SCHEMA: Record<string, Record<number, FieldDef>> = {
  ObjectMeta: {
    1: S('name'),
    2: S('generateName'),
    3: S('namespace'),
    11: MAP('labels'),
    12: MAP('annotations'),
    13: M('ownerReferences', 'OwnerReference', true),
    14: RS('finalizers'),
  },
  OwnerReference: {
    1: S('kind'),
    3: S('name'),
    4: S('uid'),
    5: S('apiVersion'),
    6: B('controller'),
    7: B('blockOwnerDeletion'),
  },
  LabelSelector: { 1: MAP('matchLabels'), 2: M('matchExpressions', 'LabelSelectorRequirement', true) },
  LabelSelectorRequirement: { 1: S('key'), 2: S('operator'), 3: RS('values') },
  IntOrString: { 1: I('type'), 2: I('intVal'), 3: S('strVal') },
  Quantity: { 1: S('string') },
  Deployment: { 1: M('metadata', 'ObjectMeta'), 2: M('spec', 'DeploymentSpec') },
  DeploymentSpec: {
    1: I('replicas', true),
    2: M('selector', 'LabelSelector'),
    3: M('template', 'PodTemplateSpec'),
    4: M('strategy', 'DeploymentStrategy'),
    5: I('minReadySeconds'),
    6: I('revisionHistoryLimit', true),
    7: B('paused'),
    9: I('progressDeadlineSeconds', true),
  },
  DeploymentStrategy: { 1: S('type'), 2: M('rollingUpdate', 'RollingUpdateDeployment') },
  RollingUpdateDeployment: { 1: M('maxUnavailable', 'IntOrString'), 2: M('maxSurge', 'IntOrString') },
  PodTemplateSpec: { 1: M('metadata', 'ObjectMeta'), 2: M('spec', 'PodSpec') },
  PodSpec: {
    2: M('containers', 'Container', true),
    3: S('restartPolicy'),
    4: I('terminationGracePeriodSeconds', true),
    5: I('activeDeadlineSeconds', true),
    6: S('dnsPolicy'),
    7: MAP('nodeSelector'),
    8: S('serviceAccountName'),
    10: S('nodeName'),
    15: M('imagePullSecrets', 'LocalObjectReference', true),
    19: S('schedulerName'),
    20: M('initContainers', 'Container', true),
  },
  LocalObjectReference: { 1: S('name') },
  Container: {
    1: S('name'),
    2: S('image'),
    3: RS('command'),
    4: RS('args'),
    5: S('workingDir'),
    6: M('ports', 'ContainerPort', true),
    7: M('env', 'EnvVar', true),
    8: M('resources', 'ResourceRequirements'),
    13: S('terminationMessagePath'),
    14: S('imagePullPolicy'),
    16: B('stdin'),
    18: B('tty'),
    20: S('terminationMessagePolicy'),
  },
  ContainerPort: { 1: S('name'), 2: I('hostPort'), 3: I('containerPort'), 4: S('protocol'), 5: S('hostIP') },
  EnvVar: { 1: S('name'), 2: S('value') },
  ResourceRequirements: { 1: MAP('limits', { msg: 'Quantity' }), 2: MAP('requests', { msg: 'Quantity' }) },
  Job: { 1: M('metadata', 'ObjectMeta'), 2: M('spec', 'JobSpec') },
  JobSpec: {
    1: I('parallelism', true),
    2: I('completions', true),
    3: I('activeDeadlineSeconds', true),
    4: M('selector', 'LabelSelector'),
    5: B('manualSelector'),
    6: M('template', 'PodTemplateSpec'),
    7: I('backoffLimit', true),
    8: I('ttlSecondsAfterFinished', true),
    9: S('completionMode'),
    10: B('suspend'),
  },
  Namespace: { 1: M('metadata', 'ObjectMeta'), 2: M('spec', 'NamespaceSpec') },
  NamespaceSpec: { 1: RS('finalizers') },
  ConfigMap: {
    1: M('metadata', 'ObjectMeta'),
    2: MAP('data'),
    3: MAP('binaryData', 'bytes'),
    4: B('immutable'),
  },
  Secret: {
    1: M('metadata', 'ObjectMeta'),
    2: MAP('data', 'bytes'),
    3: S('type'),
    4: MAP('stringData'),
    5: B('immutable'),
  },
  Service: { 1: M('metadata', 'ObjectMeta'), 2: M('spec', 'ServiceSpec') },
  ServiceSpec: {
    1: M('ports', 'ServicePort', true),
    2: MAP('selector'),
    3: S('clusterIP'),
    4: S('type'),
    5: RS('externalIPs'),
    7: S('sessionAffinity'),
    11: S('externalName'),
  },
  ServicePort: {
    1: S('name'),
    2: S('protocol'),
    3: I('port'),
    4: M('targetPort', 'IntOrString'),
    5: I('nodePort'),
  },
  Unknown: {},
  TypeMeta: { 1: S('apiVersion'), 2: S('kind') },
};

export const PROTOBUF_MAGIC = Buffer.from([0x6b, 0x38, 0x73, 0x00]);

class Reader {
  pos = 0;
  constructor(readonly buf: Buffer) {}
  get done(): boolean {
    return this.pos >= this.buf.length;
  }
  varint(): bigint {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      if (this.pos >= this.buf.length) throw new Error('protobuf: truncated varint');
      const b = this.buf[this.pos++]!;
      result |= BigInt(b & 0x7f) << shift;
      if ((b & 0x80) === 0) return result;
      shift += 7n;
    }
  }
  bytes(): Buffer {
    const len = Number(this.varint());
    const out = this.buf.subarray(this.pos, this.pos + len);
    this.pos += len;
    return out;
  }
  skip(wire: number): void {
    if (wire === 0) this.varint();
    else if (wire === 1) this.pos += 8;
    else if (wire === 2) this.bytes();
    else if (wire === 5) this.pos += 4;
    else throw new Error(`protobuf: unsupported wire type ${wire}`);
  }
}

function toInt(v: bigint): number {
  // int32/int64 negative values come as 10-byte two's complement varints
  return Number(BigInt.asIntN(64, v));
}

function decodeMessage(buf: Buffer, type: string): Record<string, unknown> {
  const schema = SCHEMA[type] ?? {};
  const out: Record<string, unknown> = {};
  const r = new Reader(buf);
  while (!r.done) {
    const tag = Number(r.varint());
    const field = tag >>> 3;
    const wire = tag & 7;
    const def = schema[field];
    if (!def) {
      r.skip(wire);
      continue;
    }
    let value: unknown;
    const k = def.kind;
    if (k === 'string') value = r.bytes().toString('utf8');
    else if (k === 'bytes') value = r.bytes().toString('base64');
    else if (k === 'int') value = toInt(r.varint());
    else if (k === 'bool') value = r.varint() !== 0n;
    else if ('msg' in k) value = decodeMessage(r.bytes(), k.msg);
    else {
      const entry = new Reader(r.bytes());
      let key = '';
      let v: unknown = '';
      while (!entry.done) {
        const t = Number(entry.varint());
        if (t >>> 3 === 1) key = entry.bytes().toString('utf8');
        else if (t >>> 3 === 2) {
          const vk = k.map;
          v =
            vk === 'string'
              ? entry.bytes().toString('utf8')
              : vk === 'bytes'
                ? entry.bytes().toString('base64')
                : decodeMessage(entry.bytes(), vk.msg);
        } else entry.skip(t & 7);
      }
      const m = (out[def.name] ??= {}) as Record<string, unknown>;
      m[key] = v;
      continue;
    }
    if (def.repeated) ((out[def.name] ??= []) as unknown[]).push(value);
    else out[def.name] = value;
  }
  // Go value fields are always marshalled; drop their zero values like JSON's omitempty
  for (const [f, def] of Object.entries(schema)) {
    void f;
    const v = out[def.name];
    if (!def.keepZero && (v === '' || v === 0 || v === false)) delete out[def.name];
  }
  return postProcess(type, out);
}

function postProcess(type: string, o: Record<string, unknown>): Record<string, unknown> {
  if (type === 'IntOrString') return o.type === 1 ? { value: o.strVal ?? '' } : { value: o.intVal ?? 0 };
  if (type === 'Quantity') return { value: o.string ?? '0' };
  // unwrap IntOrString / Quantity wrappers into plain JSON values
  for (const [k, v] of Object.entries(o)) {
    if (v && typeof v === 'object' && !Array.isArray(v) && Object.keys(v).length === 1 && 'value' in v)
      o[k] = (v as { value: unknown }).value;
    else if (v && typeof v === 'object' && !Array.isArray(v)) {
      for (const [mk, mv] of Object.entries(v)) {
        if (
          mv &&
          typeof mv === 'object' &&
          !Array.isArray(mv) &&
          Object.keys(mv).length === 1 &&
          'value' in mv
        )
          (v as Record<string, unknown>)[mk] = (mv as { value: unknown }).value;
      }
    }
  }
  return o;
}

/** Decodes a `k8s\0`-prefixed protobuf body into the JSON object it stands for. */
export function decodeKubernetesProtobuf(body: Buffer): Record<string, unknown> {
  if (body.length < 4 || !body.subarray(0, 4).equals(PROTOBUF_MAGIC))
    throw new Error('protobuf: missing k8s envelope');
  const r = new Reader(body.subarray(4));
  let apiVersion = '';
  let kind = '';
  let raw: Buffer | undefined;
  while (!r.done) {
    const tag = Number(r.varint());
    const field = tag >>> 3;
    if (field === 1) {
      const tm = decodeMessage(r.bytes(), 'TypeMeta');
      apiVersion = (tm.apiVersion as string | undefined) ?? '';
      kind = (tm.kind as string | undefined) ?? '';
    } else if (field === 2) raw = r.bytes();
    else r.skip(tag & 7);
  }
  if (!raw) throw new Error('protobuf: envelope without raw object');
  if (!SCHEMA[kind])
    throw new Error(`protobuf: kind ${kind || '(none)'} is not supported by kubesim; send JSON`);
  return { apiVersion, kind, ...decodeMessage(raw, kind) };
}

// ---------------------------------------------------------------- encoding (OpenAPI v2)

function varint(n: number): Buffer {
  const out: number[] = [];
  let v = n >>> 0;
  do {
    let b = v & 0x7f;
    v >>>= 7;
    if (v > 0) b |= 0x80;
    out.push(b);
  } while (v > 0);
  return Buffer.from(out);
}

/** One length-delimited field (strings and sub-messages); `true` → varint 1. */
function field(num: number, value: string | Buffer | true): Buffer {
  if (value === true) return Buffer.concat([varint(num << 3), varint(1)]);
  const bytes = typeof value === 'string' ? Buffer.from(value) : value;
  return Buffer.concat([varint((num << 3) | 2), varint(bytes.length), bytes]);
}

const cat = (...parts: Buffer[]): Buffer => Buffer.concat(parts);

let openapiV2Cache: Buffer | undefined;

/**
 * The OpenAPI v2 document as gnostic protobuf (`GET /openapi/v2`, Accept
 * application/com.github.proto-openapi.spec.v2@v1.0+protobuf). kubectl 1.27 reads it to learn
 * that the server validates fields (`fieldValidation` on each kind's PATCH) before `apply`;
 * message/field numbers from gnostic openapiv2/OpenAPIv2.proto. Operations only, no schemas.
 */
export function openapiV2Protobuf(
  kinds: { group: string; version: string; kind: string; path: string }[],
): Buffer {
  if (openapiV2Cache) return openapiV2Cache;
  const queryParam = (name: string): Buffer =>
    // ParametersItem.parameter(1) → Parameter.non_body_parameter(2) → NonBodyParameter.query_parameter_sub_schema(3)
    field(8, field(1, field(2, field(3, cat(field(2, 'query'), field(4, name), field(6, 'string'))))));
  const gvkExtension = (g: { group: string; version: string; kind: string }): Buffer =>
    // Operation.vendor_extension(13) NamedAny{name(1), value(2): Any{yaml(2)}}
    field(
      13,
      cat(
        field(1, 'x-kubernetes-group-version-kind'),
        field(2, field(2, `group: "${g.group}"\nkind: ${g.kind}\nversion: ${g.version}\n`)),
      ),
    );
  const paths = kinds.map((k) => {
    const operation = cat(
      field(5, `patch${k.kind}`),
      queryParam('dryRun'),
      queryParam('fieldManager'),
      queryParam('fieldValidation'),
      field(9, field(1, cat(field(1, '200')))),
      gvkExtension(k),
    );
    // Paths.path(2) NamedPathItem{name(1), value(2): PathItem{patch(8)}}
    return field(2, cat(field(1, k.path), field(2, field(8, operation))));
  });
  openapiV2Cache = cat(
    field(1, '2.0'),
    field(2, cat(field(1, 'Kubernetes (kubesim)'), field(2, 'unversioned'))),
    field(8, cat(...paths)),
  );
  return openapiV2Cache;
}
