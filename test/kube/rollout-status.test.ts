import { describe, expect, it } from 'vitest';
import { rolloutStatus } from '../../src/kube/rollout-status.js';
import type { Deployment } from '../../src/kube/types.js';
import { readRolloutConformance } from './conformance.js';

interface Case {
  name: string;
  revision: number;
  deployment: Deployment;
  expected: { message: string; done: boolean; error: string | null };
}

const table = readRolloutConformance<{ cases: Case[] }>('deployment_status_cases.json');

describe('rolloutStatus reproduces kubectl rollout status (deployment_status_cases.json)', () => {
  it('has the cases', () => {
    expect(table.cases.length).toBeGreaterThanOrEqual(7);
  });
  it.each(table.cases.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    expect(rolloutStatus(c.deployment, c.revision)).toEqual(c.expected);
  });
  it('evaluates the progress deadline before replica counts', () => {
    const d: Deployment = {
      metadata: { name: 'api', generation: 3 },
      spec: { replicas: 2 },
      status: {
        observedGeneration: 3,
        replicas: 2,
        updatedReplicas: 2,
        availableReplicas: 2,
        conditions: [{ type: 'Progressing', status: 'False', reason: 'ProgressDeadlineExceeded' }],
      },
    };
    expect(rolloutStatus(d).error).toBe('deployment "api" exceeded its progress deadline');
  });
  it('a stale observedGeneration hides a deadline from an older generation', () => {
    const d: Deployment = {
      metadata: { name: 'api', generation: 4 },
      spec: { replicas: 1 },
      status: {
        observedGeneration: 3,
        conditions: [{ type: 'Progressing', status: 'False', reason: 'ProgressDeadlineExceeded' }],
      },
    };
    expect(rolloutStatus(d)).toEqual({
      message: 'Waiting for deployment spec update to be observed...\n',
      done: false,
      error: null,
    });
  });
});
