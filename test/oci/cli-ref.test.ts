/**
 * `gantry ref` in-process through runCli: the JSON contract, docker's normalization, and exit 2
 * with the grammar's reason — checked against the golden outputs of docker's ParseNormalizedNamed.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/main.js';

async function cli(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await runCli(argv, { stdout: (t) => (stdout += t), stderr: (t) => (stderr += t), env: {} });
  return { code, stdout, stderr };
}

const golden = JSON.parse(
  readFileSync(
    fileURLToPath(
      new URL(
        '../../../shared/conformance/distribution-reference/golden_outputs_generated.json',
        import.meta.url,
      ),
    ),
    'utf8',
  ),
) as {
  input: string;
  ParseNormalizedNamed: {
    string?: string;
    name?: string;
    domain?: string;
    path?: string;
    tag?: string;
    digest?: string;
    familiar_string?: string;
    error_message?: string;
  };
}[];

describe('gantry ref', () => {
  it('prints the parts of a familiar reference as JSON', async () => {
    const r = await cli(['ref', 'nginx:1.25', '--json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({
      input: 'nginx:1.25',
      string: 'docker.io/library/nginx:1.25',
      name: 'docker.io/library/nginx',
      domain: 'docker.io',
      path: 'library/nginx',
      tag: '1.25',
      digest: null,
      familiar: 'nginx:1.25',
    });
  });

  it('prints a human summary without --json', async () => {
    const r = await cli(['ref', 'ghcr.io/acme/api@sha256:' + 'b'.repeat(64)]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('ghcr.io/acme/api@sha256:' + 'b'.repeat(64));
    expect(r.stdout).toMatch(/tag:\s+-/);
  });

  it('exits 2 with the reason for an invalid reference', async () => {
    const r = await cli(['ref', 'acme/App:1', '--json']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('invalid reference format: repository name (acme/App) must be lowercase');
    expect(JSON.parse(r.stdout)).toMatchObject({ error: { code: 'input', exitCode: 2 } });
  });

  it('exits 2 without an argument', async () => {
    expect((await cli(['ref'])).code).toBe(2);
  });

  it('agrees with docker ParseNormalizedNamed on every golden input', async () => {
    for (const row of golden) {
      const want = row.ParseNormalizedNamed;
      const r = await cli(['ref', '--json', '--', row.input]);
      if (want.error_message !== undefined) {
        expect(r.code, row.input).toBe(2);
        expect(r.stderr, row.input).toContain(want.error_message);
        continue;
      }
      expect(r.code, row.input).toBe(0);
      expect(JSON.parse(r.stdout), row.input).toEqual({
        input: row.input,
        string: want.string,
        name: want.name,
        domain: want.domain,
        path: want.path,
        tag: want.tag ?? null,
        digest: want.digest ?? null,
        familiar: want.familiar_string,
      });
    }
  });
});
