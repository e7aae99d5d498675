/**
 * Where a rollback goes: the pure decision, from the deploy history, the Deployments as they run
 * now (with their ReplicaSets) and the `to` the operator asked for, of the exact state each
 * Deployment is put back to. No I/O here — rollback.ts reads the cluster, validates the images
 * and applies what this decides.
 *
 * The trap this avoids is `kubectl rollout undo`'s: undo takes "the revision before the current
 * one", and after one undo that is the broken release again, so a second undo brings it back.
 * `previous` here is anchored in the history instead — the "before" of the latest deploy record
 * (never of a rollback record) — so running it twice is a no-op the second time.
 *
 *   previous      images before the latest deploy that changed the Deployment
 *   revision:<N>  the pod template of the ReplicaSet with deployment.kubernetes.io/revision N
 *   sha:<commit>  images of the newest succeeded deploy of that commit (prefix of ≥ 7 hex)
 *   last-good     images of the newest succeeded deploy that differ from what runs (never a
 *                 deployment marked rolled-back)
 *   image:<ref>   one container of one Deployment to a (digest-resolved) image
 *
 * Where the target is a set of images, the ReplicaSet that ran exactly those images supplies the
 * full pod template (what `kubectl rollout undo` restores); without one, only the images of the
 * current template are replaced.
 */
import { ConfigurationError } from '../core/errors.js';
import type { HistoryDeployment, HistoryRecord } from './history.js';
import { containerImages } from './plan.js';
import { sameTemplate } from './restore.js';
import type { PodTemplateSpec } from './types.js';

export type RollbackTo =
  | { kind: 'previous' }
  | { kind: 'revision'; revision: number }
  | { kind: 'sha'; commit: string }
  | { kind: 'last-good' }
  /** `image` as written; rollback.ts resolves it to a digest before choosing. */
  | { kind: 'image'; image: string };

/** Parses the `to` input (default `previous`); a ConfigurationError names the input. */
export function parseRollbackTo(text: string | undefined, inputLabel = 'input "to"'): RollbackTo {
  const v = (text ?? '').trim();
  const fail = (problem: string): never => {
    throw new ConfigurationError(
      `${inputLabel} ${problem}; use previous, revision:<N>, sha:<commit>, last-good or image:<reference>`,
      { input: 'to' },
    );
  };
  if (v === '' || v === 'previous') return { kind: 'previous' };
  if (v === 'last-good') return { kind: 'last-good' };
  const colon = v.indexOf(':');
  if (colon <= 0) return fail(`is "${v}"`);
  const kind = v.slice(0, colon);
  const arg = v.slice(colon + 1).trim();
  if (kind === 'revision') {
    if (!/^\d+$/.test(arg) || Number(arg) < 1)
      return fail(`is "${v}": the revision must be a whole number ≥ 1`);
    return { kind: 'revision', revision: Number(arg) };
  }
  if (kind === 'sha') {
    if (!/^[0-9a-f]{7,64}$/i.test(arg)) return fail(`is "${v}": give at least 7 hex digits of the commit`);
    return { kind: 'sha', commit: arg.toLowerCase() };
  }
  if (kind === 'image') {
    if (arg === '') return fail(`is "${v}": name the image`);
    return { kind: 'image', image: arg };
  }
  return fail(`is "${v}"`);
}

/** `to` as it is recorded and shown. */
export function formatRollbackTo(to: RollbackTo): string {
  switch (to.kind) {
    case 'revision':
      return `revision:${to.revision}`;
    case 'sha':
      return `sha:${to.commit}`;
    case 'image':
      return `image:${to.image}`;
    default:
      return to.kind;
  }
}

export interface RunningReplicaSet {
  name: string;
  revision: number;
  template: PodTemplateSpec;
}

/** A Deployment as it runs now, with the ReplicaSets it owns. */
export interface RunningDeployment {
  name: string;
  template: PodTemplateSpec;
  revision?: number;
  paused?: boolean;
  replicaSets: readonly RunningReplicaSet[];
}

/** A deployment the operator named: `name`, or `name/container` (only meaningful for image:). */
export interface RequestedDeployment {
  name: string;
  container?: string;
}

/** The deploy step's `previous` output: deployment → revision and images before. */
export type PreviousImages = Record<string, { revision?: string; images: Record<string, string> }>;

export interface RollbackTarget {
  deployment: string;
  /** container → image after the rollback (every container, app and init). */
  images: Record<string, string>;
  /** The full template to restore (from a ReplicaSet, pod-template-hash removed); undefined → replace images only. */
  template?: PodTemplateSpec;
  /** The ReplicaSet the template comes from, and its revision. */
  replicaSet?: string;
  revision?: number;
  /** Already there: nothing to change. */
  noop: boolean;
  /** What the target is, for logs, the change-cause and the report. */
  description: string;
  /** The history record the images come from (previous / sha / last-good). */
  record?: { id: string; commit?: string };
  /** The deploy record whose release this rollback reverts (marked rolled-back afterwards). */
  reverts?: string;
}

export type RollbackProblemKind =
  | 'no-history'
  | 'no-revision'
  | 'no-record'
  | 'ambiguous-commit'
  | 'paused'
  | 'missing-deployment'
  | 'container'
  | 'one-deployment';

export interface RollbackProblem {
  kind: RollbackProblemKind;
  deployment?: string;
  message: string;
}

export interface RollbackChoice {
  targets: RollbackTarget[];
  problems: RollbackProblem[];
}

export interface ChooseOptions {
  /** The deploy step's `previous` output: the target of `previous`, instead of the history. */
  previous?: PreviousImages;
  /** For `previous`: the deploy record to revert (the deploy step's run id) instead of the latest. */
  previousOf?: string;
  /** For image: — the deployment/container as requested. */
  requested?: readonly RequestedDeployment[];
}

const isDeployRecord = (r: HistoryRecord): boolean => (r.kind ?? 'deploy') === 'deploy';

function entryOf(r: HistoryRecord, deployment: string): HistoryDeployment | undefined {
  return r.deployments.find((d) => d.name === deployment);
}

/** container → image recorded "before" (which: 'before') or "after" for one deployment of a record. */
export function recordImages(d: HistoryDeployment, which: 'before' | 'after'): Record<string, string> {
  return Object.fromEntries(d.images.map((i) => [i.container, i[which]]));
}

/** Images for `deployment` with `partial` laid over the running ones (a record lists only the containers it set). */
function withRunning(running: RunningDeployment, partial: Record<string, string>): Record<string, string> {
  return { ...containerImages(running.template), ...partial };
}

function sameImages(a: Record<string, string>, b: Record<string, string>): boolean {
  const ka = Object.keys(a).sort();
  const kb = Object.keys(b).sort();
  return ka.length === kb.length && ka.every((k, i) => k === kb[i] && a[k] === b[k]);
}

/** The template with the controller's pod-template-hash label removed (what kubectl rollout undo writes back). */
export function stripTemplateHash(template: PodTemplateSpec): PodTemplateSpec {
  const t = structuredClone(template);
  if (t.metadata?.labels) {
    delete t.metadata.labels['pod-template-hash'];
    if (Object.keys(t.metadata.labels).length === 0) delete t.metadata.labels;
  }
  return t;
}

/** The ReplicaSet that ran exactly `images` — the one with revision `hint` if it did, else the newest. */
export function replicaSetWithImages(
  running: RunningDeployment,
  images: Record<string, string>,
  hint?: number,
): RunningReplicaSet | undefined {
  const matching = running.replicaSets
    .filter((rs) => sameImages(containerImages(rs.template), images))
    .sort((a, b) => b.revision - a.revision);
  return matching.find((rs) => rs.revision === hint) ?? matching[0];
}

/** The newest deploy record whose release is what `running` runs now (the one a rollback reverts). */
export function currentRelease(
  history: readonly HistoryRecord[],
  running: RunningDeployment,
): HistoryRecord | undefined {
  const now = containerImages(running.template);
  for (let i = history.length - 1; i >= 0; i--) {
    const r = history[i]!;
    if (!isDeployRecord(r)) continue;
    const d = entryOf(r, running.name);
    if (!d?.changed || d.result === 'not-started' || d.result === 'rolled-back') continue;
    if (sameImages(withRunning(running, recordImages(d, 'after')), now)) return r;
  }
  return undefined;
}

/** Pure: `all` = the deployments of the latest deploy record; else the names as given. */
export function resolveDeploymentNames(
  history: readonly HistoryRecord[],
  requested: readonly string[],
): { deployments: RequestedDeployment[]; problem?: string } {
  if (requested.length === 1 && requested[0] === 'all') {
    const latest = [...history].reverse().find(isDeployRecord);
    if (!latest)
      return { deployments: [], problem: 'deployments "all": there is no deploy record in the history' };
    return { deployments: latest.deployments.map((d) => ({ name: d.name })) };
  }
  return {
    deployments: requested.map((r) => {
      const [name = '', container] = r.split('/');
      return { name, ...(container ? { container } : {}) };
    }),
  };
}

function shortId(r: HistoryRecord): string {
  return `run ${r.id}${r.commit ? ` (commit ${r.commit.slice(0, 7)})` : ''}`;
}

/**
 * Pure: the target of every Deployment in `running` for `to`, and every reason the rollback
 * cannot run (a problem for any Deployment stops the whole rollback before anything changes).
 */
export function chooseRollbackTarget(
  history: readonly HistoryRecord[],
  running: readonly RunningDeployment[],
  to: RollbackTo,
  options: ChooseOptions = {},
): RollbackChoice {
  const targets: RollbackTarget[] = [];
  const problems: RollbackProblem[] = [];
  if (to.kind === 'image' && running.length !== 1) {
    problems.push({
      kind: 'one-deployment',
      message: `to "image:…" rolls back one deployment; ${running.length} were given (${running.map((r) => r.name).join(', ')})`,
    });
    return { targets, problems };
  }
  for (const dep of running) {
    const now = containerImages(dep.template);
    const problem = (kind: RollbackProblemKind, message: string): void => {
      problems.push({ kind, deployment: dep.name, message });
    };
    if (dep.paused) {
      problem(
        'paused',
        `deployment "${dep.name}" is paused; resume it first with "kubectl rollout resume deployment/${dep.name}"`,
      );
      continue;
    }
    const fromImages = (
      images: Record<string, string>,
      description: string,
      extra: Partial<RollbackTarget>,
      revisionHint?: number,
    ): RollbackTarget => {
      const noop = sameImages(images, now);
      const rs = replicaSetWithImages(dep, images, revisionHint);
      const { reverts: revertsHint, ...rest } = extra;
      const reverts = noop ? undefined : (revertsHint ?? currentRelease(history, dep)?.id);
      return {
        deployment: dep.name,
        images,
        ...(rs
          ? { template: stripTemplateHash(rs.template), replicaSet: rs.name, revision: rs.revision }
          : {}),
        noop,
        description,
        ...rest,
        ...(reverts ? { reverts } : {}),
      };
    };

    switch (to.kind) {
      case 'previous': {
        const given = options.previous?.[dep.name];
        const record = options.previousOf
          ? history.find((r) => r.id === options.previousOf)
          : [...history]
              .reverse()
              .find(
                (r) =>
                  isDeployRecord(r) &&
                  entryOf(r, dep.name)?.changed &&
                  entryOf(r, dep.name)?.result !== 'not-started',
              );
        if (given) {
          const hint = given.revision !== undefined ? Number(given.revision) : undefined;
          targets.push(
            fromImages(
              withRunning(dep, given.images),
              `the state before ${record ? shortId(record) : 'the deploy'}`,
              record ? { reverts: record.id } : {},
              hint,
            ),
          );
          break;
        }
        const entry = record ? entryOf(record, dep.name) : undefined;
        if (!record || !entry) {
          problem(
            'no-history',
            options.previousOf
              ? `no deploy record ${options.previousOf} for deployment "${dep.name}" in the history`
              : `no deploy of deployment "${dep.name}" in the history: nothing to roll back to (use revision:<N> or image:<ref>)`,
          );
          break;
        }
        const hint = entry.revisionBefore !== undefined ? Number(entry.revisionBefore) : undefined;
        targets.push(
          fromImages(
            withRunning(dep, recordImages(entry, 'before')),
            `the state before ${shortId(record)}`,
            {
              record: { id: record.id, ...(record.commit ? { commit: record.commit } : {}) },
              reverts: record.id,
            },
            hint,
          ),
        );
        break;
      }
      case 'revision': {
        const rs = dep.replicaSets.find((r) => r.revision === to.revision);
        if (!rs) {
          const known = dep.replicaSets.map((r) => r.revision).sort((a, b) => a - b);
          problem(
            'no-revision',
            `unable to find specified revision ${to.revision} in history of deployment "${dep.name}" (it has: ${known.join(', ') || 'none'})`,
          );
          break;
        }
        const template = stripTemplateHash(rs.template);
        const noop = sameTemplate(template, dep.template);
        const reverts = noop ? undefined : currentRelease(history, dep)?.id;
        targets.push({
          deployment: dep.name,
          images: containerImages(template),
          template,
          replicaSet: rs.name,
          revision: rs.revision,
          noop,
          description: `revision ${rs.revision}`,
          ...(reverts ? { reverts } : {}),
        });
        break;
      }
      case 'sha': {
        const candidates = history.filter(
          (r) =>
            isDeployRecord(r) && r.result === 'succeeded' && r.commit?.toLowerCase().startsWith(to.commit),
        );
        const commits = new Set(candidates.map((r) => r.commit));
        if (commits.size > 1) {
          problem(
            'ambiguous-commit',
            `sha:${to.commit} matches several commits (${[...commits].join(', ')}); give more digits`,
          );
          break;
        }
        const record = [...candidates].reverse().find((r) => {
          const d = entryOf(r, dep.name);
          return (
            d !== undefined &&
            d.result !== 'not-started' &&
            d.result !== 'rolled-back' &&
            d.result !== 'failed'
          );
        });
        const entry = record ? entryOf(record, dep.name) : undefined;
        if (!record || !entry) {
          problem(
            'no-record',
            `no succeeded deploy of commit ${to.commit} for deployment "${dep.name}" in the history`,
          );
          break;
        }
        const hint = entry.revisionAfter !== undefined ? Number(entry.revisionAfter) : undefined;
        targets.push(
          fromImages(
            withRunning(dep, recordImages(entry, 'after')),
            `commit ${record.commit ?? to.commit} (${shortId(record)})`,
            { record: { id: record.id, ...(record.commit ? { commit: record.commit } : {}) } },
            hint,
          ),
        );
        break;
      }
      case 'last-good': {
        let chosen:
          { record: HistoryRecord; entry: HistoryDeployment; images: Record<string, string> } | undefined;
        for (let i = history.length - 1; i >= 0 && !chosen; i--) {
          const r = history[i]!;
          if (!isDeployRecord(r) || r.result !== 'succeeded') continue;
          const d = entryOf(r, dep.name);
          if (!d || (d.result !== 'succeeded' && d.result !== 'unchanged')) continue;
          const images = withRunning(dep, recordImages(d, 'after'));
          if (!sameImages(images, now)) chosen = { record: r, entry: d, images };
        }
        if (!chosen) {
          problem(
            'no-record',
            `no succeeded deploy of deployment "${dep.name}" with images other than the running ones in the history`,
          );
          break;
        }
        const hint =
          chosen.entry.revisionAfter !== undefined ? Number(chosen.entry.revisionAfter) : undefined;
        targets.push(
          fromImages(
            chosen.images,
            `last good: ${shortId(chosen.record)}`,
            {
              record: {
                id: chosen.record.id,
                ...(chosen.record.commit ? { commit: chosen.record.commit } : {}),
              },
            },
            hint,
          ),
        );
        break;
      }
      case 'image': {
        const wanted = options.requested?.find((r) => r.name === dep.name)?.container;
        const names = (dep.template.spec?.containers ?? []).map((c) => c.name);
        const inits = (dep.template.spec?.initContainers ?? []).map((c) => c.name);
        let container = wanted;
        if (container === undefined) {
          if (names.length !== 1) {
            problem(
              'container',
              `deployment "${dep.name}" has ${names.length} containers (${names.join(', ')}); name one: ${dep.name}/<container>`,
            );
            break;
          }
          container = names[0]!;
        } else if (!names.includes(container) && !inits.includes(container)) {
          problem(
            'container',
            `deployment "${dep.name}" has no container "${container}" (it has: ${[...names, ...inits].join(', ')})`,
          );
          break;
        }
        const images = { ...now, [container]: to.image };
        const noop = now[container] === to.image;
        const reverts = noop ? undefined : currentRelease(history, dep)?.id;
        // a ReplicaSet that ran exactly this image set with the current template otherwise: none needed,
        // the current template with one image replaced is the exact target
        targets.push({
          deployment: dep.name,
          images,
          noop,
          description: `image ${to.image} for container ${container}`,
          ...(reverts ? { reverts } : {}),
        });
        break;
      }
    }
  }
  return { targets, problems };
}

/** The template to write for a target: the ReplicaSet's, or the current one with the images replaced. */
export function targetTemplate(current: PodTemplateSpec, target: RollbackTarget): PodTemplateSpec {
  if (target.template) return structuredClone(target.template);
  const t = structuredClone(current);
  for (const list of [t.spec?.containers ?? [], t.spec?.initContainers ?? []]) {
    for (const c of list) {
      const image = target.images[c.name];
      if (image !== undefined) c.image = image;
    }
  }
  return t;
}
