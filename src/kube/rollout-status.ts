/**
 * `kubectl rollout status` for a Deployment, reproduced exactly: the same evaluation order and the
 * same messages (kubectl pkg/polymorphichelpers/rollout_status.go, DeploymentStatusViewer.Status).
 * This is gantry's success criterion; failure is decided earlier, from pods (pod-failure.ts), but
 * a ProgressDeadlineExceeded condition is still an error here as it is for kubectl.
 */
import { REVISION_ANNOTATION, type Deployment } from './types.js';

export interface RolloutStatus {
  /** kubectl's message, including its trailing newline; '' when `error` is set. */
  message: string;
  done: boolean;
  /** Set when kubectl would exit with an error (deadline exceeded, revision superseded). */
  error: string | null;
}

/** Go's %q for the names Kubernetes allows (DNS-1123); other characters JSON-escaped. */
function goQuote(s: string): string {
  return JSON.stringify(s);
}

/**
 * kubectl's verdict on one Deployment object. `revision` > 0 pins the expected revision
 * (`kubectl rollout status --revision`).
 */
export function rolloutStatus(deployment: Deployment, revision = 0): RolloutStatus {
  const name = goQuote(deployment.metadata.name ?? '');
  if (revision > 0) {
    const raw = deployment.metadata.annotations?.[REVISION_ANNOTATION];
    const current = raw === undefined ? NaN : Number.parseInt(raw, 10);
    if (Number.isNaN(current)) {
      return { message: '', done: false, error: `cannot get the revision of deployment ${name}` };
    }
    if (current !== revision) {
      return {
        message: '',
        done: false,
        error: `desired revision (${revision}) is different from the running revision (${current})`,
      };
    }
  }
  const generation = deployment.metadata.generation ?? 0;
  const status = deployment.status ?? {};
  if (generation <= (status.observedGeneration ?? 0)) {
    const progressing = status.conditions?.find((c) => c.type === 'Progressing');
    if (progressing?.reason === 'ProgressDeadlineExceeded') {
      return { message: '', done: false, error: `deployment ${name} exceeded its progress deadline` };
    }
    const updated = status.updatedReplicas ?? 0;
    const replicas = status.replicas ?? 0;
    const available = status.availableReplicas ?? 0;
    const wanted = deployment.spec?.replicas;
    if (wanted !== undefined && updated < wanted) {
      return waiting(
        `Waiting for deployment ${name} rollout to finish: ${updated} out of ${wanted} new replicas have been updated...\n`,
      );
    }
    if (replicas > updated) {
      return waiting(
        `Waiting for deployment ${name} rollout to finish: ${replicas - updated} old replicas are pending termination...\n`,
      );
    }
    if (available < updated) {
      return waiting(
        `Waiting for deployment ${name} rollout to finish: ${available} of ${updated} updated replicas are available...\n`,
      );
    }
    return { message: `deployment ${name} successfully rolled out\n`, done: true, error: null };
  }
  return waiting('Waiting for deployment spec update to be observed...\n');
}

function waiting(message: string): RolloutStatus {
  return { message, done: false, error: null };
}
