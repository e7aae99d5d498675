// The action body (outputs, summary) with fakes at the I/O edges, and action.yml ↔ CLI parity.
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { runBuildMultiarch } from '../../src/build/action.js';
import type { ExecFn } from '../../src/build/build-images.js';
import { buildCommand } from '../../src/cli/commands/build.js';
import { Inputs, envInputSource } from '../../src/core/inputs.js';
import { MemoryLogger } from '../../src/core/logging.js';

const SHA = 'd'.repeat(40);
const DIGEST = `sha256:${'1'.repeat(64)}`;

const fakeExec: ExecFn = async (command, args) => {
  const a = args.join(' ');
  if (a.startsWith('buildx build')) {
    await writeFile(
      args[args.indexOf('--metadata-file') + 1] ?? '',
      JSON.stringify({ 'containerimage.digest': DIGEST }),
    );
  }
  const stdout = a === 'buildx inspect' ? 'Driver: docker\n' : a.startsWith('image inspect') ? '2048\n' : '';
  return {
    command,
    args,
    exitCode: 0,
    signal: null,
    stdout,
    stderr: '',
    truncated: false,
    durationMs: 1,
    timedOut: false,
  };
};

describe('build-multiarch action body', () => {
  it('sets images, digest and ref, and writes a summary row per target', async () => {
    const summary = join(await mkdtemp(join(tmpdir(), 'gantry-sum-')), 'summary.md');
    await writeFile(summary, '');
    const env = {
      INPUT_IMAGE: 'r.example/acme/app',
      INPUT_TARGETS: 'api',
      GITHUB_SHA: SHA,
      GITHUB_REF: 'refs/heads/main',
      GITHUB_EVENT_NAME: 'push',
      GITHUB_STEP_SUMMARY: summary,
      SOURCE_DATE_EPOCH: '0',
    };
    const outputs: Record<string, unknown> = {};
    const code = await runBuildMultiarch(
      {
        inputs: new Inputs(envInputSource(env)),
        logger: new MemoryLogger(),
        env,
        signal: new AbortController().signal,
        setOutput: (k, v) => (outputs[k] = v),
      },
      {
        exec: fakeExec,
        git: async () => undefined,
        registryReader: () => ({
          inspect: async () => ({ digest: DIGEST, mediaType: undefined, platforms: {} }),
        }),
      },
    );
    expect(code).toBe(0);
    expect(outputs.digest).toBe(DIGEST);
    expect(outputs.ref).toBe(`r.example/acme/app@${DIGEST}`);
    expect(outputs.images).toEqual([
      {
        target: 'api',
        image: 'r.example/acme/app',
        digest: DIGEST,
        ref: `r.example/acme/app@${DIGEST}`,
        tags: [SHA, 'sha-ddddddd', 'main'],
        platforms: { 'linux/amd64': DIGEST },
        pushed: true,
        sizeBytes: 2048,
        durationMs: expect.any(Number) as number,
      },
    ]);
    const md = await readFile(summary, 'utf8');
    expect(md).toMatch(/\| api \| `r\.example\/acme\/app@sha256:1{64}` \| linux\/amd64 \|.*\| 2\.0 KiB \|/);
  });
});

describe('action.yml and gantry build agree', () => {
  it('every action input is a CLI option with the same name (secrets refused on argv), and no more', async () => {
    const yml = parse(
      await readFile(join(import.meta.dirname, '../../actions/build-multiarch/action.yml'), 'utf8'),
    ) as {
      inputs: Record<string, unknown>;
      runs: { using: string; main: string };
    };
    expect(yml.runs).toEqual({ using: 'node24', main: '../../dist/build-multiarch.js' });
    const cli = new Map(buildCommand.options.map((o) => [o.name, o]));
    for (const name of Object.keys(yml.inputs)) expect(cli.has(name), name).toBe(true);
    expect(cli.get('password')?.secret).toBe(true);
    expect(cli.get('secrets')?.secret).toBe(true);
    const cliOnly = [...cli.keys()].filter((n) => !(n in yml.inputs));
    expect(cliOnly).toEqual(['password-stdin']);
  });
});
