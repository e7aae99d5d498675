// The demo's orchestration with a fake `gantry` (hermetic): order of steps, expected failures,
// stopping at an unexpected exit, always tearing the sandbox down; and the HTML report.
import { describe, expect, it } from 'vitest';
import { MemoryLogger } from '../../src/core/logging.js';
import type { CliIo } from '../../src/cli/command.js';
import { renderDemoReport } from '../../src/cli/demo/report-html.js';
import { runDemo, type DemoResult } from '../../src/cli/demo/run-demo.js';

type Answer = { code: number; json?: unknown };

function fakeGantry(overrides: Record<string, Answer> = {}): {
  calls: string[][];
  invoke: (argv: readonly string[], io: CliIo) => Promise<number>;
} {
  const calls: string[][] = [];
  const built = (tag: string) =>
    ['api', 'worker', 'admin'].map((t) => ({
      target: t,
      image: `127.0.0.1:5000/demo/app-${t}`,
      digest: `sha256:${tag}${t}`,
      ref: `127.0.0.1:5000/demo/app-${t}@sha256:${tag}${t}`,
    }));
  return {
    calls,
    async invoke(argv, io) {
      calls.push([...argv]);
      const key =
        argv[0] === 'build' ? `build ${argv[argv.indexOf('--tags') + 1]}` : argv.slice(0, 2).join(' ');
      const defaults: Record<string, Answer> = {
        'sandbox up': {
          code: 0,
          json: { kubeconfig: '/k', registry: '127.0.0.1:5000', server: 'http://127.0.0.1:6443' },
        },
        'sandbox status': { code: 0, json: { services: { 'demo/api': 'http://127.0.0.1:7000' } } },
        'build v1': { code: 0, json: built('1') },
        'build v2': { code: 0, json: built('2') },
        'build v3': { code: 0, json: built('3') },
        'release --kubeconfig': {
          code: 1,
          json: { result: 'rolled-back', summary: 'smoke failed; v1 restored' },
        },
      };
      const isV3Deploy = argv[0] === 'deploy' && argv.some((a) => a.includes('sha256:3'));
      const answer =
        overrides[isV3Deploy ? 'deploy v3' : key] ??
        defaults[key] ??
        (isV3Deploy ? { code: 1, json: { report: { result: 'rolled-back' } } } : { code: 0, json: {} });
      io.stderr(JSON.stringify({ level: 'info', msg: `ran ${key}` }) + '\n');
      io.stderr(JSON.stringify({ level: 'info', msg: 'Copying blob sha256:abc' }) + '\n');
      if (answer.json !== undefined) io.stdout(JSON.stringify(answer.json));
      return answer.code;
    },
  };
}

const options = {
  appDir: '/app',
  stateDir: '/tmp/gantry-demo-test',
  clockSpeed: 10,
  builder: 'buildah' as const,
  keep: false,
  namespace: 'demo',
};

describe('runDemo', () => {
  it('chains the pipeline, counts the caught broken releases as expected, and tears down', async () => {
    const fake = fakeGantry();
    const logger = new MemoryLogger();
    const booted: string[] = [];
    const result = await runDemo(options, {
      logger,
      invoke: fake.invoke,
      env: {},
      bootstrap: async (kubeconfig, ns, images) => {
        booted.push(`${kubeconfig} ${ns} ${images.map((i) => i.target).join(',')}`);
      },
    });
    expect(result.ok).toBe(true);
    expect(result.serviceUrl).toBe('http://127.0.0.1:7000');
    expect(booted).toEqual(['/k demo api,worker,admin']);
    expect(
      fake.calls.map((c) =>
        c[0] === 'build' ? `build ${c[c.indexOf('--tags') + 1]}` : c.slice(0, 2).join(' '),
      ),
    ).toEqual([
      'sandbox up',
      'generate-key-pair --output-key-prefix',
      'build v1',
      'sign --key',
      'sandbox status',
      'deploy --kubeconfig',
      'smoke --url',
      'build v2',
      'sign --key',
      'release --kubeconfig',
      'build v3',
      'sign --key',
      'deploy --kubeconfig',
      'smoke --url',
      'sandbox down',
    ]);
    const release = result.steps.find((s) => s.id === 'release-v2');
    expect(release).toMatchObject({ exitCode: 1, expectedExit: 1, ok: true });
    expect(result.steps.find((s) => s.id === 'deploy-v3')).toMatchObject({ exitCode: 1, ok: true });
    // every deploy is signature-gated and pinned through the build output
    for (const c of fake.calls.filter((c) => c[0] === 'deploy' || c[0] === 'release')) {
      expect(c).toContain('--verify-key');
      expect(c).toContain('--images');
    }
    // builder chatter is filtered, the sub-command's own lines are shown
    expect(logger.text()).toContain('│ ran build v1');
    expect(logger.text()).not.toContain('Copying blob');
  });

  it('stops at a step that does not end as expected, and still stops the sandbox', async () => {
    const fake = fakeGantry({ 'release --kubeconfig': { code: 0, json: { result: 'released' } } });
    const result = await runDemo(options, {
      logger: new MemoryLogger(),
      invoke: fake.invoke,
      env: {},
      bootstrap: async () => {},
    });
    expect(result.ok).toBe(false);
    expect(result.steps.at(-1)).toMatchObject({ id: 'release-v2', ok: false, exitCode: 0, expectedExit: 1 });
    expect(fake.calls.at(-1)?.slice(0, 2)).toEqual(['sandbox', 'down']);
    expect(fake.calls.some((c) => c[0] === 'build' && c.includes('v3'))).toBe(false);
  });

  it('leaves the sandbox running with keep', async () => {
    const fake = fakeGantry();
    await runDemo(
      { ...options, keep: true },
      { logger: new MemoryLogger(), invoke: fake.invoke, env: {}, bootstrap: async () => {} },
    );
    expect(fake.calls.some((c) => c[0] === 'sandbox' && c[1] === 'down')).toBe(false);
  });

  it('passes the key password only through the environment', async () => {
    const seen: { argv: string[]; env: NodeJS.ProcessEnv }[] = [];
    const fake = fakeGantry();
    await runDemo(options, {
      logger: new MemoryLogger(),
      env: {},
      bootstrap: async () => {},
      invoke: (argv, io) => {
        seen.push({ argv: [...argv], env: io.env });
        return fake.invoke(argv, io);
      },
    });
    const password = seen[0]?.env.COSIGN_PASSWORD;
    expect(password).toMatch(/^[\w-]{20,}$/);
    expect(seen.some((s) => s.argv.some((a) => a.includes(password ?? '\u0000')))).toBe(false);
  });
});

describe('renderDemoReport', () => {
  it('renders every step with its outcome class and escapes text', () => {
    const result: DemoResult = {
      ok: true,
      startedAt: '2026-11-24T10:00:00.000Z',
      durationMs: 10_000,
      stateDir: '/tmp/x',
      registry: '127.0.0.1:5000',
      server: 'http://127.0.0.1:6443',
      steps: [
        {
          id: 'a',
          title: 'deploy v1',
          startMs: 0,
          durationMs: 2000,
          exitCode: 0,
          expectedExit: 0,
          ok: true,
          note: 'ok <b>',
        },
        {
          id: 'b',
          title: 'release v2',
          startMs: 2000,
          durationMs: 8000,
          exitCode: 1,
          expectedExit: 1,
          ok: true,
          note: 'rolled back',
        },
      ],
    };
    const html = renderDemoReport(result);
    expect(html).toContain('<tr class="good">');
    expect(html).toContain('<tr class="caught">');
    expect(html).toContain('failed as it should (exit 1)');
    expect(html).toContain('ok &lt;b&gt;');
    expect(html).toContain('left:20.00%;width:80.00%');
    expect(renderDemoReport({ ...result, ok: false })).toContain('did not end as expected');
  });
});
