/**
 * The deploy plan: from the targets, their resolved digests and the Deployments as they are now,
 * one strategic-merge patch per Deployment that must change (images pinned by digest,
 * `kubernetes.io/change-cause` and gantry's annotations in the same request), plus exactly what
 * was there before — the state an atomic restore puts back. A Deployment whose containers are
 * already at the target digests is left alone: no patch, no new revision.
 *
 * The patch has the shape `kubectl set image` sends (`$setElementOrder/containers` + the named
 * containers), and carries `metadata.resourceVersion` so the API server refuses it (409) if the
 * Deployment changed since it was read.
 */
import { formatReference } from '../oci/reference.js';
import { isPinnedTo, pinnedImage, type DeployTarget } from './targets.js';
import {
  CHANGE_CAUSE_ANNOTATION,
  REVISION_ANNOTATION,
  type Deployment,
  type PodTemplateSpec,
} from './types.js';

/** Annotations gantry writes on the Deployment (not the pod template: they must not make a revision). */
export const ANNOTATIONS = {
  commit: 'gantry.dev/commit',
  runUrl: 'gantry.dev/run-url',
  runId: 'gantry.dev/run-id',
  deployedAt: 'gantry.dev/deployed-at',
} as const;

export interface DeployMetadata {
  changeCause: string;
  runId: string;
  commit?: string;
  runUrl?: string;
  /** ISO time of the run. */
  at: string;
}

export interface ContainerChange {
  container: string;
  init: boolean;
  /** The image in the template now. */
  from: string;
  /** The pinned image to set. */
  to: string;
  changed: boolean;
  /** The target reference as given (tag or digest), for reports. */
  requested: string;
}

/** What the Deployment was before this run: what restore puts back and the history records. */
export interface PreviousState {
  revision?: string;
  resourceVersion?: string;
  generation?: number;
  template: PodTemplateSpec;
  /** container name → image, app and init containers. */
  images: Record<string, string>;
  /** The values of the annotations the patch sets (undefined = absent). */
  annotations: Record<string, string | undefined>;
}

export interface StrategicMergePatch {
  metadata: { resourceVersion?: string; annotations: Record<string, string> };
  spec: { template: { spec: Record<string, unknown> } };
}

export interface DeploymentPlan {
  name: string;
  changed: boolean;
  containers: ContainerChange[];
  patch?: StrategicMergePatch;
  previous: PreviousState;
}

export type PlanProblemKind = 'missing-deployment' | 'missing-container' | 'ambiguous-container' | 'paused';

export interface PlanProblem {
  kind: PlanProblemKind;
  deployment: string;
  container?: string;
  message: string;
}

export interface PlanInput {
  targets: readonly DeployTarget[];
  /** formatReference(target.image) → digest, from the registry. */
  digests: ReadonlyMap<string, string>;
  /** Current Deployments by name (absent = not found). */
  deployments: ReadonlyMap<string, Deployment>;
  metadata: DeployMetadata;
}

export interface DeployPlan {
  deployments: DeploymentPlan[];
  problems: PlanProblem[];
}

/** The digest a target resolves to: its own digest, else the registry's answer for its tag. */
export function targetDigest(target: DeployTarget, digests: ReadonlyMap<string, string>): string | undefined {
  return target.image.digest ?? digests.get(formatReference(target.image));
}

export function containerImages(template: PodTemplateSpec | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const c of [...(template?.spec?.initContainers ?? []), ...(template?.spec?.containers ?? [])]) {
    out[c.name] = c.image ?? '';
  }
  return out;
}

export function previousState(d: Deployment): PreviousState {
  const annotations = d.metadata.annotations ?? {};
  const touched: Record<string, string | undefined> = {};
  for (const key of [CHANGE_CAUSE_ANNOTATION, ...Object.values(ANNOTATIONS)]) touched[key] = annotations[key];
  return {
    ...(annotations[REVISION_ANNOTATION] !== undefined ? { revision: annotations[REVISION_ANNOTATION] } : {}),
    ...(d.metadata.resourceVersion !== undefined ? { resourceVersion: d.metadata.resourceVersion } : {}),
    ...(d.metadata.generation !== undefined ? { generation: d.metadata.generation } : {}),
    template: structuredClone(d.spec?.template ?? {}),
    images: containerImages(d.spec?.template),
    annotations: touched,
  };
}

/** Pure: the per-Deployment patches for this run, and every reason it cannot run. */
export function planDeploy(input: PlanInput): DeployPlan {
  const problems: PlanProblem[] = [];
  const byDeployment = new Map<string, DeployTarget[]>();
  for (const t of input.targets) {
    const list = byDeployment.get(t.deployment) ?? [];
    list.push(t);
    byDeployment.set(t.deployment, list);
  }
  const plans: DeploymentPlan[] = [];
  for (const [name, targets] of byDeployment) {
    const d = input.deployments.get(name);
    if (!d) {
      problems.push({
        kind: 'missing-deployment',
        deployment: name,
        message: `deployment "${name}" not found`,
      });
      continue;
    }
    if (d.spec?.paused) {
      problems.push({
        kind: 'paused',
        deployment: name,
        message: `deployment "${name}" is paused; resume it first with "kubectl rollout resume deployment/${name}"`,
      });
    }
    const containers = d.spec?.template?.spec?.containers ?? [];
    const inits = d.spec?.template?.spec?.initContainers ?? [];
    const changes: ContainerChange[] = [];
    for (const t of targets) {
      let name2 = t.container;
      if (name2 === undefined) {
        if (containers.length !== 1) {
          problems.push({
            kind: 'ambiguous-container',
            deployment: name,
            message: `deployment "${name}" has ${containers.length} containers (${containers.map((c) => c.name).join(', ')}); name one: ${name}/<container>=…`,
          });
          continue;
        }
        name2 = containers[0]?.name ?? '';
      }
      const app = containers.find((c) => c.name === name2);
      const init = app ? undefined : inits.find((c) => c.name === name2);
      const found = app ?? init;
      if (!found) {
        const all = [...containers, ...inits].map((c) => c.name).join(', ');
        problems.push({
          kind: 'missing-container',
          deployment: name,
          container: name2,
          message: `deployment "${name}" has no container "${name2}" (it has: ${all || 'none'})`,
        });
        continue;
      }
      const digest = targetDigest(t, input.digests);
      if (!digest) continue; // pre-flight reports unresolved images separately
      const to = pinnedImage(t.image, digest);
      changes.push({
        container: name2,
        init: !app,
        from: found.image ?? '',
        to,
        changed: !isPinnedTo(found.image, t.image, digest),
        requested: formatReference(t.image),
      });
    }
    const changed = changes.some((c) => c.changed);
    const plan: DeploymentPlan = { name, changed, containers: changes, previous: previousState(d) };
    if (changed) plan.patch = buildPatch(d, changes, input.metadata);
    plans.push(plan);
  }
  return { deployments: plans, problems };
}

function buildPatch(
  d: Deployment,
  changes: readonly ContainerChange[],
  meta: DeployMetadata,
): StrategicMergePatch {
  const podSpec: Record<string, unknown> = {};
  const app = changes.filter((c) => !c.init && c.changed);
  const init = changes.filter((c) => c.init && c.changed);
  const spec = d.spec?.template?.spec;
  if (app.length > 0) {
    podSpec['$setElementOrder/containers'] = (spec?.containers ?? []).map((c) => ({ name: c.name }));
    podSpec.containers = app.map((c) => ({ image: c.to, name: c.container }));
  }
  if (init.length > 0) {
    podSpec['$setElementOrder/initContainers'] = (spec?.initContainers ?? []).map((c) => ({ name: c.name }));
    podSpec.initContainers = init.map((c) => ({ image: c.to, name: c.container }));
  }
  const annotations: Record<string, string> = {
    [CHANGE_CAUSE_ANNOTATION]: meta.changeCause,
    [ANNOTATIONS.runId]: meta.runId,
    [ANNOTATIONS.deployedAt]: meta.at,
  };
  if (meta.commit) annotations[ANNOTATIONS.commit] = meta.commit;
  if (meta.runUrl) annotations[ANNOTATIONS.runUrl] = meta.runUrl;
  return {
    metadata: {
      ...(d.metadata.resourceVersion ? { resourceVersion: d.metadata.resourceVersion } : {}),
      annotations,
    },
    spec: { template: { spec: podSpec } },
  };
}

/** Default change-cause: short SHA, actor and run URL from the Actions/Gitea environment. */
export function defaultChangeCause(env: NodeJS.ProcessEnv, images: readonly string[]): string {
  const sha = env.GITHUB_SHA?.slice(0, 7);
  const actor = env.GITHUB_ACTOR;
  const url = runUrlFromEnv(env);
  const parts = [`gantry deploy ${images.join(', ')}`];
  if (sha) parts.push(`commit ${sha}`);
  if (actor) parts.push(`by ${actor}`);
  if (url) parts.push(url);
  return parts.join(' · ');
}

/** `<server>/<repo>/actions/runs/<id>` — GitHub and Gitea both use this layout. */
export function runUrlFromEnv(env: NodeJS.ProcessEnv): string | undefined {
  const server = env.GITHUB_SERVER_URL;
  const repo = env.GITHUB_REPOSITORY;
  const run = env.GITHUB_RUN_ID;
  if (!server || !repo || !run) return undefined;
  return `${server.replace(/\/$/, '')}/${repo}/actions/runs/${run}`;
}
