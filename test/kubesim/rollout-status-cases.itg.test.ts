/**
 * The Deployment states of shared/conformance/kubectl-rollout/deployment_status_cases.json,
 * staged verbatim in kubesim (deployment controller paused, objects written through the admin
 * API), must make real `kubectl rollout status` print kubectl's expected message or error.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Kubesim } from '../../sandbox/kubesim/index.js';
import type { KObject } from '../../sandbox/kubesim/types.js';
import { hasKubectl, kubectlFor, startKubesim, type Kubectl } from '../fixtures/kubesim.js';

interface Case {
  name: string;
  revision: number;
  deployment: KObject;
  expected: { message: string; done: boolean; error: string | null };
}

const conformanceDir = join(import.meta.dirname, '../../../shared/conformance/kubectl-rollout');
const casesFile = join(conformanceDir, 'deployment_status_cases.json');
const cases = (JSON.parse(readFileSync(casesFile, 'utf8')) as { cases: Case[] }).cases;

for (const minor of [27, 33]) {
  describe.skipIf(!hasKubectl(minor))(`kubectl 1.${minor} rollout status on conformance states`, () => {
    let ks: Kubesim;
    let k: Kubectl;
    beforeAll(async () => {
      ks = await startKubesim({ clockSpeed: 10, serverMinor: minor });
      ks.admin.pauseController('deployment');
      k = await kubectlFor(minor, ks.kubeconfig);
      expect((await k('create', 'namespace', 'bar')).code).toBe(0);
    });

    it.each(cases)('$name', async (c) => {
      ks.admin.setObject(structuredClone(c.deployment));
      const args = [
        'rollout',
        'status',
        `deployment/${c.deployment.metadata.name}`,
        '-n',
        c.deployment.metadata.namespace!,
        '--watch=false',
      ];
      if (c.revision > 0) args.push(`--revision=${c.revision}`);
      const r = await k(...args);
      if (c.expected.error) {
        expect(r.code).toBe(1);
        expect(r.stderr).toBe(`error: ${c.expected.error}\n`);
      } else {
        expect(r.code).toBe(0);
        expect(r.stdout).toBe(c.expected.message);
      }
    });

    it('a watching rollout status finishes when the observed state catches up', async () => {
      const c = cases.find((x) => x.name === 'test5')!;
      const d = structuredClone(c.deployment);
      d.metadata.name = 'watched';
      ks.admin.setObject(d);
      const pending = k('rollout', 'status', 'deployment/watched', '-n', 'bar', '--timeout=20s');
      // let kubectl list and open its watch before the status changes
      await new Promise((r) => setTimeout(r, 700));
      const current = ks.admin.getObject('apps/v1', 'Deployment', 'bar', 'watched')!;
      ks.admin.setObject({ ...current, status: { ...(current.status as object), observedGeneration: 2 } });
      const r = await pending;
      expect(r.code).toBe(0);
      expect(r.stdout).toBe(
        'Waiting for deployment spec update to be observed...\ndeployment "watched" successfully rolled out\n',
      );
    });
  });
}

describe('conformance data is present', () => {
  it('has the cases kubesim is checked against', () => {
    expect(cases.length).toBeGreaterThanOrEqual(7);
  });
});
