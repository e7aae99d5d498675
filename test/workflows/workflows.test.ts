// The workflows in .gitea/workflows are code too: every local action they use exists, every `with:`
// key is an input that action declares (a typo there is silently ignored by the runners), required
// inputs are given, `steps.<id>.outputs.<name>` names an output the step's action declares,
// third-party actions are pinned by commit SHA with a version comment, and permissions are minimal.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { repoRoot } from '../fixtures/dockerd.js';

interface ActionYml {
  inputs?: Record<string, { required?: boolean; default?: unknown }>;
  outputs?: Record<string, unknown>;
  runs: { using: string; main: string };
}
interface Step {
  id?: string;
  uses?: string;
  with?: Record<string, unknown>;
  run?: string;
}
interface Workflow {
  on: unknown;
  permissions?: Record<string, string>;
  jobs: Record<string, { steps: Step[] }>;
}

const wfDir = join(repoRoot, '.gitea/workflows');
const workflowFiles = readdirSync(wfDir).filter((f) => f.endsWith('.yml'));
const action = (name: string): ActionYml =>
  parse(readFileSync(join(repoRoot, 'actions', name, 'action.yml'), 'utf8')) as ActionYml;

describe('.gitea/workflows', () => {
  it('has the deploy, rollback and PR workflows and the pack CI', () => {
    expect(workflowFiles).toEqual(expect.arrayContaining(['deploy.yml', 'rollback.yml', 'pr.yml', 'ci.yml']));
  });

  for (const file of workflowFiles) {
    const text = readFileSync(join(wfDir, file), 'utf8');
    const wf = parse(text) as Workflow;

    it(`${file}: read-only contents permission, pinned third-party actions`, () => {
      expect(wf.permissions).toEqual({ contents: 'read' });
      for (const line of text.split('\n').filter((l) => /uses:\s*[\w-]+\/[\w-]+@/.test(l))) {
        expect(line).toMatch(/@[0-9a-f]{40} # v\d+(\.\d+)*$/);
      }
      expect(text).not.toMatch(/github\.com/);
    });

    it(`${file}: local actions exist and get only inputs they declare, required ones included`, () => {
      for (const job of Object.values(wf.jobs)) {
        const idToAction = new Map<string, ActionYml>();
        for (const step of job.steps) {
          if (!step.uses?.startsWith('./actions/')) continue;
          const yml = action(step.uses.slice('./actions/'.length));
          expect(yml.runs.using).toBe('node24');
          const given = Object.keys(step.with ?? {});
          const declared = Object.keys(yml.inputs ?? {});
          expect(
            given.filter((k) => !declared.includes(k)),
            `${step.uses} in ${file}`,
          ).toEqual([]);
          const required = Object.entries(yml.inputs ?? {}).filter(
            ([, v]) => v.required && v.default === undefined,
          );
          expect(
            required.map(([k]) => k).filter((k) => !given.includes(k)),
            `${step.uses} in ${file}`,
          ).toEqual([]);
          if (step.id) idToAction.set(step.id, yml);
        }
        for (const m of JSON.stringify(job.steps).matchAll(/steps\.([\w-]+)\.outputs\.([\w-]+)/g)) {
          const [, id, output] = m;
          const yml = idToAction.get(id ?? '');
          expect(yml, `step ${id} in ${file}`).toBeDefined();
          expect(Object.keys(yml?.outputs ?? {}), `steps.${id}.outputs.${output} in ${file}`).toContain(
            output,
          );
        }
      }
    });
  }

  it('deploy.yml chains build → sign → deploy (verified) → smoke → rollback on smoke failure', () => {
    const wf = parse(readFileSync(join(wfDir, 'deploy.yml'), 'utf8')) as Workflow;
    const steps = Object.values(wf.jobs)[0]?.steps ?? [];
    expect(steps.map((s) => s.uses?.replace(/@.*/, ''))).toEqual([
      'actions/checkout',
      './actions/build-multiarch',
      './actions/sign-image',
      './actions/k3s-deploy',
      './actions/smoke-test',
      './actions/rollback',
      './actions/smoke-test',
    ]);
    const deploy = steps.find((s) => s.uses === './actions/k3s-deploy');
    expect(deploy?.with?.['verify-key']).toBeTruthy();
    const rollback = steps.find((s) => s.uses === './actions/rollback') as Step & { if?: string };
    expect(rollback.if).toMatch(/failure\(\)/);
    expect(rollback.with?.previous).toBe('${{ steps.deploy.outputs.previous }}');
  });
});
