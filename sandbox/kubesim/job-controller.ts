/**
 * The Job controller: runs pods until `completions` succeed or more than `backoffLimit` fail
 * (a pod that failed, or a container restart under restartPolicy OnFailure, counts as one
 * failure), with the real back-off between replacement pods, then sets Complete or Failed.
 */
import { isoTime } from './clock.js';
import { WorkQueue, controllerRef, nsName, splitKey, type ClusterContext } from './controller-runtime.js';
import { randomSuffix } from './defaults.js';
import { R } from './resources.js';
import { setCondition } from './rollout-plan.js';
import type { Condition, Job, JobStatus, Pod } from './types.js';

export class JobController {
  readonly queue: WorkQueue;
  private readonly retryTimers = new Map<string, { at: number; cancel: () => void }>();

  constructor(private readonly ctx: ClusterContext) {
    this.queue = new WorkQueue('job-controller', (k) => this.reconcile(k), ctx.logger);
    ctx.store.subscribe((e) => {
      if (e.rt === R.jobs) this.queue.add(nsName(e.object));
      else if (e.rt === R.pods) {
        const ref = controllerRef(e.object);
        if (ref?.kind === 'Job') this.queue.add(`${e.object.metadata.namespace}/${ref.name}`);
      }
    });
  }

  stop(): void {
    for (const t of this.retryTimers.values()) t.cancel();
  }

  private reconcile(key: string): void {
    const [ns, name] = splitKey(key);
    const job = this.ctx.store.get(R.jobs, ns, name) as Job | undefined;
    if (!job) return;
    const nowIso = isoTime(this.ctx.clock.now());
    const pods = (this.ctx.store.list(R.pods, ns) as Pod[]).filter(
      (p) => controllerRef(p)?.uid === job.metadata.uid,
    );
    const finished = (job.status?.conditions ?? []).some(
      (c) => (c.type === 'Complete' || c.type === 'Failed') && c.status === 'True',
    );
    const active = pods.filter((p) => p.status?.phase !== 'Succeeded' && p.status?.phase !== 'Failed');
    const succeeded = pods.filter((p) => p.status?.phase === 'Succeeded').length;
    const restarts =
      job.spec.template.spec?.restartPolicy === 'OnFailure'
        ? pods.reduce(
            (n, p) => n + (p.status?.containerStatuses ?? []).reduce((m, c) => m + c.restartCount, 0),
            0,
          )
        : 0;
    const failed = pods.filter((p) => p.status?.phase === 'Failed').length + restarts;
    const completions = job.spec.completions ?? 1;
    const backoffLimit = job.spec.backoffLimit ?? 6;
    let conds: Condition[] = [...(job.status?.conditions ?? [])];
    const status: JobStatus = { ...job.status, startTime: job.status?.startTime ?? nowIso };
    let activeCount = active.length;

    if (!finished) {
      if (failed > backoffLimit) {
        for (const p of active) this.ctx.store.remove(R.pods, ns, p.metadata.name!);
        activeCount = 0;
        conds = setCondition(conds, {
          type: 'FailureTarget',
          status: 'True',
          reason: 'BackoffLimitExceeded',
          message: 'Job has reached the specified backoff limit',
          lastProbeTime: nowIso,
          lastTransitionTime: nowIso,
        });
        conds = setCondition(conds, {
          type: 'Failed',
          status: 'True',
          reason: 'BackoffLimitExceeded',
          message: 'Job has reached the specified backoff limit',
          lastProbeTime: nowIso,
          lastTransitionTime: nowIso,
        });
        this.ctx.events.record(
          job,
          'Warning',
          'BackoffLimitExceeded',
          'Job has reached the specified backoff limit',
          'job-controller',
        );
        this.ctx.logger.log(
          'info',
          'job-controller',
          `${key}: failed (${failed} failures > backoffLimit ${backoffLimit})`,
        );
      } else if (succeeded >= completions) {
        conds = setCondition(conds, {
          type: 'SuccessCriteriaMet',
          status: 'True',
          reason: 'CompletionsReached',
          message: 'Reached expected number of succeeded pods',
          lastProbeTime: nowIso,
          lastTransitionTime: nowIso,
        });
        conds = setCondition(conds, {
          type: 'Complete',
          status: 'True',
          reason: 'CompletionsReached',
          message: 'Reached expected number of succeeded pods',
          lastProbeTime: nowIso,
          lastTransitionTime: nowIso,
        });
        status.completionTime = nowIso;
        this.ctx.events.record(job, 'Normal', 'Completed', 'Job completed', 'job-controller');
        this.ctx.logger.log('info', 'job-controller', `${key}: complete`);
      } else if (!job.spec.suspend) {
        const want = Math.min(job.spec.parallelism ?? 1, completions - succeeded) - active.length;
        if (want > 0) {
          // pod failure back-off: 10s doubling, capped at 6 minutes
          const delay = failed > 0 ? Math.min(10_000 * 2 ** (failed - 1), 360_000) : 0;
          const lastFail = pods
            .filter((p) => p.status?.phase === 'Failed')
            .map((p) => Date.parse(p.metadata.creationTimestamp ?? '0'))
            .sort()
            .pop();
          const due = lastFail !== undefined ? delay - this.ctx.clock.simElapsed(lastFail) : 0;
          if (delay > 0 && due > 0) {
            if (!this.retryTimers.has(key)) {
              const cancel = this.ctx.clock.after(due, () => {
                this.retryTimers.delete(key);
                this.queue.add(key);
              });
              this.retryTimers.set(key, { at: Date.now() + due, cancel });
            }
          } else {
            for (let i = 0; i < want; i++) this.createPod(job);
            activeCount += want;
          }
        }
      }
    }
    status.active = activeCount;
    status.succeeded = succeeded;
    status.failed = failed;
    status.ready = active.filter((p) =>
      (p.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True'),
    ).length;
    status.terminating = 0;
    status.uncountedTerminatedPods = {};
    for (const k of ['active', 'succeeded', 'failed'] as const) if (status[k] === 0) delete status[k];
    if (conds.length) status.conditions = conds;
    const latest = this.ctx.store.get(R.jobs, ns, name);
    if (latest) this.ctx.store.update(R.jobs, { ...latest, status });
  }

  private createPod(job: Job): void {
    const tpl = structuredClone(job.spec.template);
    const pod: Pod = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name: `${job.metadata.name}-${randomSuffix()}`,
        generateName: `${job.metadata.name}-`,
        namespace: job.metadata.namespace,
        labels: { ...tpl.metadata?.labels },
        ownerReferences: [
          {
            apiVersion: 'batch/v1',
            kind: 'Job',
            name: job.metadata.name!,
            uid: job.metadata.uid!,
            controller: true,
            blockOwnerDeletion: true,
          },
        ],
      },
      spec: tpl.spec ?? { containers: [] },
      status: { phase: 'Pending', qosClass: 'BestEffort' },
    };
    const created = this.ctx.store.create(R.pods, pod);
    this.ctx.events.record(
      job,
      'Normal',
      'SuccessfulCreate',
      `Created pod: ${created.metadata.name}`,
      'job-controller',
    );
  }
}
