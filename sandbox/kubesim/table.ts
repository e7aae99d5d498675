/**
 * `meta.k8s.io/v1` Table rendering for `kubectl get`: the server decides the columns, so this
 * is where `READY 2/3`, `UP-TO-DATE`, pod `STATUS` (CrashLoopBackOff, ImagePullBackOff …) and
 * `AGE` come from. Column sets and cell logic follow pkg/printers/internalversion/printers.go.
 */
import { formatLabelSelector } from './selectors.js';
import type { Deployment, Job, KObject, Pod, ReplicaSet, Service } from './types.js';

interface Column {
  name: string;
  type: string;
  format?: string;
  description: string;
  priority: number;
}

const col = (name: string, type = 'string', priority = 0, format = ''): Column => ({
  name,
  type,
  format,
  description: name,
  priority,
});

/** Go's duration.HumanDuration, which kubectl's AGE column uses. */
export function humanDuration(ms: number): string {
  // Go truncates toward zero: -1.5 s is "0s", not "<invalid>"
  const seconds = Math.trunc(ms / 1000);
  if (seconds < -1) return '<invalid>';
  if (seconds < 0) return '0s';
  if (seconds < 120) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 10) {
    const s = seconds % 60;
    return s === 0 ? `${minutes}m` : `${minutes}m${s}s`;
  }
  if (minutes < 180) return `${minutes}m`;
  const hours = Math.floor(minutes / 60);
  if (hours < 8) {
    const m = minutes % 60;
    return m === 0 ? `${hours}h` : `${hours}h${m}m`;
  }
  if (hours < 48) return `${hours}h`;
  if (hours < 24 * 8) {
    const h = hours % 24;
    return h === 0 ? `${Math.floor(hours / 24)}d` : `${Math.floor(hours / 24)}d${h}h`;
  }
  if (hours < 24 * 365 * 2) return `${Math.floor(hours / 24)}d`;
  const days = Math.floor(hours / 24);
  if (hours < 24 * 365 * 8) {
    const dy = days % 365;
    return dy === 0 ? `${Math.floor(days / 365)}y` : `${Math.floor(days / 365)}y${dy}d`;
  }
  return `${Math.floor(days / 365)}y`;
}

function age(ts: string | undefined, now: number): string {
  if (!ts) return '<unknown>';
  return humanDuration(now - Date.parse(ts));
}

function images(containers: { image?: string }[] | undefined): string {
  return (containers ?? []).map((c) => c.image ?? '').join(',');
}
function names(containers: { name: string }[] | undefined): string {
  return (containers ?? []).map((c) => c.name).join(',');
}

/** Pod STATUS column: the reason logic of printPod, reduced to the states kubesim produces. */
export function podStatusReason(pod: Pod): string {
  const st = pod.status ?? {};
  let reason = st.reason ?? st.phase ?? 'Pending';
  let hasRunning = false;
  const statuses = st.containerStatuses ?? [];
  for (let i = statuses.length - 1; i >= 0; i--) {
    const c = statuses[i]!;
    if (c.state.waiting?.reason) reason = c.state.waiting.reason;
    else if (c.state.terminated?.reason) reason = c.state.terminated.reason;
    else if (c.state.terminated)
      reason = c.state.terminated.exitCode !== 0 ? `ExitCode:${c.state.terminated.exitCode}` : 'Completed';
    else if (c.ready && c.state.running) hasRunning = true;
  }
  if (reason === 'Completed' && hasRunning) {
    reason = (st.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True')
      ? 'Running'
      : 'NotReady';
  }
  if (pod.metadata.deletionTimestamp) reason = st.reason === 'NodeLost' ? 'Unknown' : 'Terminating';
  return reason;
}

function podRow(pod: Pod, now: number): unknown[] {
  const statuses = pod.status?.containerStatuses ?? [];
  const total = pod.spec?.containers?.length ?? 0;
  const ready = statuses.filter((c) => c.ready).length;
  const restarts = statuses.reduce((n, c) => n + c.restartCount, 0);
  let lastRestart: number | undefined;
  for (const c of statuses) {
    const fin = c.lastState.terminated?.finishedAt;
    if (fin) lastRestart = Math.max(lastRestart ?? 0, Date.parse(fin));
  }
  const restartCell =
    restarts > 0 && lastRestart !== undefined
      ? `${restarts} (${humanDuration(now - lastRestart)} ago)`
      : restarts;
  return [
    pod.metadata.name,
    `${ready}/${total}`,
    podStatusReason(pod),
    restartCell,
    age(pod.metadata.creationTimestamp, now),
    pod.status?.podIP ?? '<none>',
    pod.spec?.nodeName ?? '<none>',
    '<none>',
    '<none>',
  ];
}

function jobStatus(job: Job): string {
  for (const c of job.status?.conditions ?? []) {
    if (c.status !== 'True') continue;
    if (c.type === 'Failed') return 'Failed';
    if (c.type === 'Complete') return 'Complete';
    if (c.type === 'Suspended') return 'Suspended';
  }
  return 'Running';
}

function jobDuration(job: Job, now: number): string {
  const start = job.status?.startTime;
  if (!start) return '';
  const end = job.status?.completionTime ? Date.parse(job.status.completionTime) : now;
  return humanDuration(end - Date.parse(start));
}

interface Printer {
  columns: Column[];
  cells(o: KObject, now: number): unknown[];
}

const PRINTERS: Record<string, Printer> = {
  Deployment: {
    columns: [
      col('Name', 'string', 0, 'name'),
      col('Ready'),
      col('Up-to-date', 'integer'),
      col('Available', 'integer'),
      col('Age'),
      col('Containers', 'string', 1),
      col('Images', 'string', 1),
      col('Selector', 'string', 1),
    ],
    cells(o, now) {
      const d = o as Deployment;
      const tpl = d.spec.template?.spec?.containers;
      return [
        d.metadata.name,
        `${d.status?.readyReplicas ?? 0}/${d.spec.replicas ?? 0}`,
        d.status?.updatedReplicas ?? 0,
        d.status?.availableReplicas ?? 0,
        age(d.metadata.creationTimestamp, now),
        names(tpl),
        images(tpl),
        formatLabelSelector(d.spec.selector),
      ];
    },
  },
  ReplicaSet: {
    columns: [
      col('Name', 'string', 0, 'name'),
      col('Desired', 'integer'),
      col('Current', 'integer'),
      col('Ready', 'integer'),
      col('Age'),
      col('Containers', 'string', 1),
      col('Images', 'string', 1),
      col('Selector', 'string', 1),
    ],
    cells(o, now) {
      const r = o as ReplicaSet;
      const tpl = r.spec.template?.spec?.containers;
      return [
        r.metadata.name,
        r.spec.replicas ?? 0,
        r.status?.replicas ?? 0,
        r.status?.readyReplicas ?? 0,
        age(r.metadata.creationTimestamp, now),
        names(tpl),
        images(tpl),
        formatLabelSelector(r.spec.selector),
      ];
    },
  },
  Pod: {
    columns: [
      col('Name', 'string', 0, 'name'),
      col('Ready'),
      col('Status'),
      col('Restarts', 'string'),
      col('Age'),
      col('IP', 'string', 1),
      col('Node', 'string', 1),
      col('Nominated Node', 'string', 1),
      col('Readiness Gates', 'string', 1),
    ],
    cells: (o, now) => podRow(o as Pod, now),
  },
  Job: {
    columns: [
      col('Name', 'string', 0, 'name'),
      col('Status'),
      col('Completions'),
      col('Duration'),
      col('Age'),
      col('Containers', 'string', 1),
      col('Images', 'string', 1),
      col('Selector', 'string', 1),
    ],
    cells(o, now) {
      const j = o as Job;
      const tpl = j.spec.template?.spec?.containers;
      return [
        j.metadata.name,
        jobStatus(j),
        `${j.status?.succeeded ?? 0}/${j.spec.completions ?? 1}`,
        jobDuration(j, now),
        age(j.metadata.creationTimestamp, now),
        names(tpl),
        images(tpl),
        formatLabelSelector(j.spec.selector),
      ];
    },
  },
  Service: {
    columns: [
      col('Name', 'string', 0, 'name'),
      col('Type'),
      col('Cluster-IP'),
      col('External-IP'),
      col('Port(s)'),
      col('Age'),
      col('Selector', 'string', 1),
    ],
    cells(o, now) {
      const s = o as Service;
      const ports =
        (s.spec.ports ?? [])
          .map((p) => `${p.port}${p.nodePort ? `:${p.nodePort}` : ''}/${p.protocol ?? 'TCP'}`)
          .join(',') || '<none>';
      const sel =
        Object.entries(s.spec.selector ?? {})
          .map(([k, v]) => `${k}=${v}`)
          .join(',') || '<none>';
      return [
        s.metadata.name,
        s.spec.type ?? 'ClusterIP',
        s.spec.clusterIP ?? '<none>',
        '<none>',
        ports,
        age(s.metadata.creationTimestamp, now),
        sel,
      ];
    },
  },
  Namespace: {
    columns: [col('Name', 'string', 0, 'name'), col('Status'), col('Age')],
    cells: (o, now) => [
      o.metadata.name,
      (o.status as { phase?: string } | undefined)?.phase ?? 'Active',
      age(o.metadata.creationTimestamp, now),
    ],
  },
  Node: {
    columns: [col('Name', 'string', 0, 'name'), col('Status'), col('Roles'), col('Age'), col('Version')],
    cells(o, now) {
      const conds =
        (o.status as { conditions?: { type: string; status: string }[] } | undefined)?.conditions ?? [];
      const ready = conds.find((c) => c.type === 'Ready');
      const info = (o.status as { nodeInfo?: { kubeletVersion?: string } } | undefined)?.nodeInfo;
      return [
        o.metadata.name,
        ready?.status === 'True' ? 'Ready' : ready?.status === 'Unknown' ? 'NotReady' : 'NotReady',
        'control-plane',
        age(o.metadata.creationTimestamp, now),
        info?.kubeletVersion ?? '',
      ];
    },
  },
  ConfigMap: {
    columns: [col('Name', 'string', 0, 'name'), col('Data', 'integer'), col('Age')],
    cells: (o, now) => [
      o.metadata.name,
      Object.keys((o.data as object | undefined) ?? {}).length +
        Object.keys((o.binaryData as object | undefined) ?? {}).length,
      age(o.metadata.creationTimestamp, now),
    ],
  },
  Secret: {
    columns: [col('Name', 'string', 0, 'name'), col('Type'), col('Data', 'integer'), col('Age')],
    cells: (o, now) => [
      o.metadata.name,
      (o.type as string | undefined) ?? 'Opaque',
      Object.keys((o.data as object | undefined) ?? {}).length,
      age(o.metadata.creationTimestamp, now),
    ],
  },
  Event: {
    columns: [col('Last Seen'), col('Type'), col('Reason'), col('Object'), col('Message')],
    cells(o, now) {
      const e = o as KObject & {
        lastTimestamp?: string;
        eventTime?: string;
        type?: string;
        reason?: string;
        message?: string;
        involvedObject?: { kind?: string; name?: string };
      };
      return [
        age(e.lastTimestamp ?? e.eventTime ?? o.metadata.creationTimestamp, now),
        e.type ?? '',
        e.reason ?? '',
        `${(e.involvedObject?.kind ?? '').toLowerCase()}/${e.involvedObject?.name ?? ''}`,
        e.message ?? '',
      ];
    },
  },
};

const GENERIC: Printer = {
  columns: [col('Name', 'string', 0, 'name'), col('Age')],
  cells: (o, now) => [o.metadata.name, age(o.metadata.creationTimestamp, now)],
};

export function wantsTable(accept: string | undefined): boolean {
  return !!accept && /as=Table/.test(accept) && /g=meta\.k8s\.io/.test(accept);
}

function rowObject(o: KObject, includeObject: string | undefined): unknown {
  if (includeObject === 'None') return undefined;
  if (includeObject === 'Object') return o;
  return { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: o.metadata };
}

export function toTable(
  kind: string,
  objects: KObject[],
  opts: {
    now: number;
    resourceVersion?: string;
    continueToken?: string;
    includeObject?: string;
    noHeaders?: boolean;
  },
): Record<string, unknown> {
  const p = PRINTERS[kind] ?? GENERIC;
  return {
    kind: 'Table',
    apiVersion: 'meta.k8s.io/v1',
    metadata: {
      ...(opts.resourceVersion ? { resourceVersion: opts.resourceVersion } : {}),
      ...(opts.continueToken ? { continue: opts.continueToken } : {}),
    },
    ...(opts.noHeaders ? {} : { columnDefinitions: p.columns }),
    rows: objects.map((o) => ({ cells: p.cells(o, opts.now), object: rowObject(o, opts.includeObject) })),
  };
}
