/**
 * Defaulting and the little validation kubesim does, applied on every write like the real
 * API server's decode path. Only defaults that clients observe are set: kubectl's rollback
 * compares a ReplicaSet's template with the Deployment's, so both must be defaulted alike;
 * `rollout status` needs `progressDeadlineSeconds`; `get -o yaml` users expect the strategy.
 */
import { randomBytes } from 'node:crypto';
import { matchesLabelSelector } from './selectors.js';
import { invalid, type ApiError } from './status-errors.js';
import type { Container, Deployment, Job, KObject, PodSpec, PodTemplateSpec, Service } from './types.js';

function defaultContainer(c: Container): void {
  c.resources ??= {};
  c.terminationMessagePath ??= '/dev/termination-log';
  c.terminationMessagePolicy ??= 'File';
  if (c.imagePullPolicy === undefined && typeof c.image === 'string') {
    const last = c.image.split('/').pop() ?? '';
    const tagged = last.includes(':') || c.image.includes('@');
    c.imagePullPolicy =
      !tagged || (last.endsWith(':latest') && !c.image.includes('@')) ? 'Always' : 'IfNotPresent';
  }
  for (const p of c.ports ?? []) p.protocol ??= 'TCP';
}

export function defaultPodSpec(spec: PodSpec | undefined): void {
  if (!spec) return;
  spec.containers ??= [];
  for (const c of spec.containers) defaultContainer(c);
  for (const c of spec.initContainers ?? []) defaultContainer(c);
  spec.restartPolicy ??= 'Always';
  spec.terminationGracePeriodSeconds ??= 30;
  spec.dnsPolicy ??= 'ClusterFirst';
  spec.securityContext ??= {};
  spec.schedulerName ??= 'default-scheduler';
}

function defaultTemplate(t: PodTemplateSpec | undefined): void {
  if (!t) return;
  t.metadata ??= {};
  defaultPodSpec(t.spec);
}

export function applyDefaults(kind: string, obj: KObject): void {
  switch (kind) {
    case 'Deployment': {
      const d = obj as Deployment;
      if (!d.spec) return;
      d.spec.replicas ??= 1;
      d.spec.revisionHistoryLimit ??= 10;
      d.spec.progressDeadlineSeconds ??= 600;
      d.spec.strategy ??= {};
      d.spec.strategy.type ??= 'RollingUpdate';
      if (d.spec.strategy.type === 'RollingUpdate') {
        d.spec.strategy.rollingUpdate ??= {};
        d.spec.strategy.rollingUpdate.maxSurge ??= '25%';
        d.spec.strategy.rollingUpdate.maxUnavailable ??= '25%';
      }
      defaultTemplate(d.spec.template);
      break;
    }
    case 'ReplicaSet': {
      const spec = obj.spec as { replicas?: number; template?: PodTemplateSpec } | undefined;
      if (!spec) return;
      spec.replicas ??= 1;
      defaultTemplate(spec.template);
      break;
    }
    case 'Pod':
      defaultPodSpec(obj.spec as PodSpec | undefined);
      obj.status ??= { phase: 'Pending', qosClass: 'BestEffort' };
      break;
    case 'Job': {
      const j = obj as Job;
      if (!j.spec) return;
      j.spec.completions ??= 1;
      j.spec.parallelism ??= 1;
      j.spec.backoffLimit ??= 6;
      (j.spec as unknown as Record<string, unknown>).completionMode ??= 'NonIndexed';
      j.spec.suspend ??= false;
      defaultTemplate(j.spec.template);
      break;
    }
    case 'Service': {
      const s = obj as Service;
      s.spec ??= {};
      s.spec.type ??= 'ClusterIP';
      s.spec.sessionAffinity ??= 'None';
      for (const p of s.spec.ports ?? []) {
        p.protocol ??= 'TCP';
        p.targetPort ??= p.port;
      }
      if (s.spec.clusterIP === undefined) {
        const b = randomBytes(2);
        s.spec.clusterIP = `10.43.${b[0]}.${Math.max(1, b[1]!)}`;
        s.spec.clusterIPs = [s.spec.clusterIP];
      }
      s.status ??= { loadBalancer: {} };
      break;
    }
    case 'Namespace':
      obj.spec ??= { finalizers: ['kubernetes'] };
      obj.status ??= { phase: 'Active' };
      obj.metadata.labels = {
        ...obj.metadata.labels,
        'kubernetes.io/metadata.name': obj.metadata.name ?? '',
      };
      break;
    case 'Secret':
      obj.type ??= 'Opaque';
      break;
  }
}

/** Job selector and pod labels are generated from the Job's uid (the controller-uid labels). */
export function defaultJobSelector(job: Job): void {
  if (job.spec.manualSelector) return;
  const uid = job.metadata.uid!;
  const name = job.metadata.name!;
  job.spec.selector = { matchLabels: { 'batch.kubernetes.io/controller-uid': uid } };
  job.spec.template.metadata ??= {};
  job.spec.template.metadata.labels = {
    ...job.spec.template.metadata.labels,
    'batch.kubernetes.io/controller-uid': uid,
    'batch.kubernetes.io/job-name': name,
    'controller-uid': uid,
    'job-name': name,
  };
}

const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** Returns the Invalid error the real API server would give, or undefined. */
export function validate(kind: string, group: string, obj: KObject): ApiError | undefined {
  const name = obj.metadata.name ?? '';
  const causes: { field: string; message: string; reason?: string }[] = [];
  if (!DNS1123_SUBDOMAIN.test(name) || name.length > 253) {
    causes.push({
      field: 'metadata.name',
      message: `Invalid value: "${name}": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')`,
    });
  }
  const checkPod = (spec: PodSpec | undefined, prefix: string): void => {
    if (!spec || !Array.isArray(spec.containers) || spec.containers.length === 0) {
      causes.push({ field: `${prefix}.containers`, message: 'Required value', reason: 'FieldValueRequired' });
      return;
    }
    spec.containers.forEach((c, i) => {
      if (!c.name)
        causes.push({
          field: `${prefix}.containers[${i}].name`,
          message: 'Required value',
          reason: 'FieldValueRequired',
        });
      if (!c.image)
        causes.push({
          field: `${prefix}.containers[${i}].image`,
          message: 'Required value',
          reason: 'FieldValueRequired',
        });
    });
  };
  if (kind === 'Deployment' || kind === 'ReplicaSet') {
    const spec = obj.spec as Deployment['spec'] | undefined;
    if (
      !spec?.selector ||
      (Object.keys(spec.selector.matchLabels ?? {}).length === 0 &&
        (spec.selector.matchExpressions ?? []).length === 0)
    ) {
      causes.push({ field: 'spec.selector', message: 'Required value', reason: 'FieldValueRequired' });
    } else if (!matchesLabelSelector(spec.template?.metadata?.labels, spec.selector)) {
      const labels = Object.entries(spec.template?.metadata?.labels ?? {})
        .map(([k, v]) => `"${k}":"${v}"`)
        .join(', ');
      causes.push({
        field: 'spec.template.metadata.labels',
        message: `Invalid value: map[string]string{${labels}}: \`selector\` does not match template \`labels\``,
      });
    }
    if (typeof spec?.replicas === 'number' && spec.replicas < 0) {
      causes.push({
        field: 'spec.replicas',
        message: `Invalid value: ${spec.replicas}: must be greater than or equal to 0`,
      });
    }
    checkPod(spec?.template?.spec, 'spec.template.spec');
  } else if (kind === 'Pod') {
    checkPod(obj.spec as PodSpec | undefined, 'spec');
  } else if (kind === 'Job') {
    const spec = (obj as Job).spec;
    checkPod(spec?.template?.spec, 'spec.template.spec');
    const rp = spec?.template?.spec?.restartPolicy;
    if (rp !== 'Never' && rp !== 'OnFailure') {
      causes.push({
        field: 'spec.template.spec.restartPolicy',
        message: `Unsupported value: "${rp ?? 'Always'}": supported values: "OnFailure", "Never"`,
        reason: 'FieldValueNotSupported',
      });
    }
  }
  return causes.length ? invalid(kind, group, name, causes) : undefined;
}

const NAME_ALPHABET = 'bcdfghjklmnpqrstvwxz2456789';

/** The 5-character random suffix of generateName (same alphabet as apimachinery's rand.String). */
export function randomSuffix(n = 5): string {
  const bytes = randomBytes(n);
  let s = '';
  for (const b of bytes) s += NAME_ALPHABET[b % NAME_ALPHABET.length];
  return s;
}
