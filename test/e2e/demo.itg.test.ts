// End to end through the shipped bundles: `node dist/cli.js demo` built fresh from the sources into
// a temp dir (no node_modules next to it) runs the whole pipeline — buildah builds, cosign-format
// signatures, digest-pinned deploys on kubesim, smoke tests, a degraded release rolled back, a
// crashlooping release restored — against a real registry. Catches what in-process tests cannot:
// bundling and module-interop faults (the split CLI once lost `yaml`'s named exports).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../fixtures/dockerd.js';

const work = mkdtempSync(join(tmpdir(), 'gantry-e2e-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

interface DemoJson {
  ok: boolean;
  report: string;
  steps: {
    id: string;
    ok: boolean;
    exitCode: number;
    expectedExit: number;
    note: string;
    durationMs: number;
  }[];
}

describe('gantry demo from the bundles', () => {
  it('runs the whole pipeline and catches both broken releases', () => {
    const build = spawnSync(
      process.execPath,
      [join(repoRoot, 'scripts/build.mjs'), '--outdir', join(work, 'dist')],
      {
        encoding: 'utf8',
      },
    );
    expect(build.status, build.stderr).toBe(0);
    writeFileSync(join(work, 'package.json'), JSON.stringify({ type: 'module' }));
    const report = join(work, 'report.html');
    const run = spawnSync(
      process.execPath,
      [
        join(work, 'dist/cli.js'),
        'demo',
        '--clock-speed',
        '5',
        '--app',
        join(repoRoot, 'examples/app'),
        '--report',
        report,
        '--json',
      ],
      {
        encoding: 'utf8',
        cwd: work,
        timeout: 240_000,
        env: { ...process.env, PATH: `${join(repoRoot, '.tools/bin')}:${process.env.PATH}` },
      },
    );
    const out = JSON.parse(run.stdout) as DemoJson;
    const failed = out.steps.filter((s) => !s.ok);
    expect(failed, run.stderr.slice(-3000)).toEqual([]);
    expect(run.status).toBe(0);
    expect(out.ok).toBe(true);
    const byId = Object.fromEntries(out.steps.map((s) => [s.id, s]));
    expect(byId['deploy-v1']?.note).toMatch(/^succeeded/);
    expect(byId['release-v2']).toMatchObject({ exitCode: 1, ok: true });
    expect(byId['release-v2']?.note).toMatch(/^rolled-back/);
    expect(byId['deploy-v3']).toMatchObject({ exitCode: 1, ok: true });
    expect(byId['deploy-v3']?.note).toMatch(/worker .*CrashLoopBackOff/);
    expect(byId['smoke-after']?.note).toMatch(/^healthy/);
    expect(readFileSync(report, 'utf8')).toContain('<tr class="caught">');
    // the key password was generated and only ever passed through the environment
    expect(run.stderr).not.toMatch(/COSIGN_PASSWORD=/);
  });
});
