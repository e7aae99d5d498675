/**
 * The CLI surface in-process (runCli) against a real registry and the real cosign: key generation,
 * sign, verify, verify-blob and their exit codes; a wrong password pushes nothing.
 */
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/main.js';
import { Inputs, envInputSource } from '../../src/core/inputs.js';
import { MemoryLogger } from '../../src/core/logging.js';
import { signImageAction, verifyImageAction } from '../../src/cosign/run.js';
import { signatureTag } from '../../src/cosign/layout.js';
import { startRegistry, type RunningRegistry } from '../fixtures/registry.js';
import { cosign, cosignSign, cosignVerify, getManifestBytes, pushImage } from './helpers.js';

let reg: RunningRegistry;
let dir: string;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}
async function gantry(argv: string[], env: Record<string, string> = {}, stdin?: string): Promise<Run> {
  let stdout = '';
  let stderr = '';
  const code = await runCli(argv, {
    stdout: (t) => (stdout += t),
    stderr: (t) => (stderr += t),
    env: { PATH: process.env.PATH ?? '', ...env },
    ...(stdin === undefined ? {} : { readStdin: () => Promise.resolve(stdin) }),
  });
  return { code, stdout, stderr };
}

beforeAll(async () => {
  reg = await startRegistry({ auth: 'none' });
  dir = mkdtempSync(join(tmpdir(), 'gantry-cosign-cli-'));
  const r = await gantry(['generate-key-pair', '--output-key-prefix', join(dir, 'g')], {
    COSIGN_PASSWORD: 'pw',
  });
  expect(r.code, r.stderr).toBe(0);
});

describe('gantry generate-key-pair / sign / verify / verify-blob', () => {
  it('generate-key-pair writes a 0600 key that cosign signs with; refuses to overwrite', async () => {
    expect(statSync(join(dir, 'g.key')).mode & 0o777).toBe(0o600);
    expect(readFileSync(join(dir, 'g.key'), 'utf8')).toMatch(
      /^-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----/,
    );
    const digest = await pushImage(reg.url, 'cli-gen', 'v1');
    const res = await cosignSign(join(dir, 'g.key'), 'pw', `${reg.host}/cli-gen@${digest}`);
    expect(res.exitCode, res.stderr).toBe(0);
    expect((await gantry(['verify', '--key', join(dir, 'g.pub'), `${reg.host}/cli-gen:v1`])).code).toBe(0);
    const again = await gantry(['generate-key-pair', '--output-key-prefix', join(dir, 'g')], {
      COSIGN_PASSWORD: 'pw',
    });
    expect(again.code).toBe(2);
    const empty = await gantry(
      ['generate-key-pair', '--output-key-prefix', join(dir, 'e'), '--password-stdin'],
      {},
      '\n',
    );
    expect(empty.code, empty.stderr).toBe(0);
    const digest2 = await pushImage(reg.url, 'cli-gen', 'v2');
    expect((await cosignSign(join(dir, 'e.key'), '', `${reg.host}/cli-gen@${digest2}`)).exitCode).toBe(0);
  });

  it('sign → cosign verify; verify --json; unsigned image → exit 1 with the reason', async () => {
    const digest = await pushImage(reg.url, 'cli-sign', 'v1');
    const s = await gantry(
      [
        'sign',
        '--key',
        join(dir, 'g.key'),
        '--annotations',
        'team=core',
        '--json',
        `${reg.host}/cli-sign:v1`,
      ],
      {
        COSIGN_PASSWORD: 'pw',
      },
    );
    expect(s.code, s.stderr).toBe(0);
    const out = JSON.parse(s.stdout) as { signatures: { digest: string; 'signature-ref': string }[] };
    expect(out.signatures[0]?.digest).toBe(digest);
    expect(s.stderr).toContain(`pushed signature ${signatureTag(digest)}`);
    expect(
      (await cosignVerify(join(dir, 'g.pub'), `${reg.host}/cli-sign@${digest}`, ['-a', 'team=core']))
        .exitCode,
    ).toBe(0);

    const v = await gantry([
      'verify',
      '--key',
      join(dir, 'g.pub'),
      '--annotation',
      'team=core',
      '--json',
      `${reg.host}/cli-sign:v1`,
    ]);
    expect(v.code, v.stderr).toBe(0);
    expect((JSON.parse(v.stdout) as { verified: boolean }).verified).toBe(true);

    await pushImage(reg.url, 'cli-sign', 'unsigned');
    const u = await gantry([
      'verify',
      '--key',
      join(dir, 'g.pub'),
      `${reg.host}/cli-sign:v1`,
      `${reg.host}/cli-sign:unsigned`,
    ]);
    expect(u.code).toBe(1);
    expect(u.stdout).toMatch(/NOT verified .*cli-sign:unsigned: no signatures found/);
    expect(
      (
        await gantry([
          'verify',
          '--key',
          join(dir, 'g.pub'),
          '--annotation',
          'team=other',
          `${reg.host}/cli-sign:v1`,
        ])
      ).code,
    ).toBe(1);
  });

  it('a wrong password exits 2 with "wrong password for <key>" and pushes nothing', async () => {
    const digest = await pushImage(reg.url, 'cli-wrongpw', 'v1');
    const keyPath = join(dir, 'g.key');
    const r = await gantry(['sign', '--key', keyPath, `${reg.host}/cli-wrongpw:v1`], {
      COSIGN_PASSWORD: 'nope',
    });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`wrong password for ${keyPath}`);
    expect(await getManifestBytes(reg.url, 'cli-wrongpw', signatureTag(digest))).toBeUndefined();
  });

  it('bad input exits 2 before anything: bad reference, secret on argv, no key', async () => {
    expect(
      (await gantry(['sign', '--key', join(dir, 'g.key'), 'UPPER/Case:x'], { COSIGN_PASSWORD: 'pw' })).code,
    ).toBe(2);
    expect((await gantry(['sign', '--password', 'x', `${reg.host}/a:b`])).code).toBe(2);
    const noKey = await gantry(['sign', `${reg.host}/a:b`]);
    expect(noKey.code).toBe(2);
    expect(noKey.stderr).toMatch(/no OIDC token is available/);
    expect((await gantry(['verify', `${reg.host}/a:b`])).code).toBe(2);
  });

  it('verify-blob: cosign sign-blob output verifies; tampered payload or other digest → 1; bad input → 2', async () => {
    const payload = join(dir, 'payload.json');
    const digest = `sha256:${'ab'.repeat(32)}`;
    writeFileSync(
      payload,
      `{"critical":{"identity":{"docker-reference":"r/x"},"image":{"docker-manifest-digest":"${digest}"},"type":"cosign container image signature"},"optional":null}`,
    );
    const sb = await cosign(
      [
        'sign-blob',
        '--key',
        join(dir, 'g.key'),
        '--tlog-upload=false',
        '--output-signature',
        join(dir, 'p.sig'),
        payload,
      ],
      {
        COSIGN_PASSWORD: 'pw',
      },
    );
    expect(sb.exitCode, sb.stderr).toBe(0);
    const pub = join(dir, 'g.pub');
    const sigFile = join(dir, 'p.sig');
    expect((await gantry(['verify-blob', '--key', pub, '--signature', sigFile, payload])).code).toBe(0);
    const sigText = readFileSync(sigFile, 'utf8').trim();
    expect(
      (await gantry(['verify-blob', '--key', pub, '--signature', sigText, '--image-digest', digest, payload]))
        .code,
    ).toBe(0);
    expect(
      (
        await gantry([
          'verify-blob',
          '--key',
          pub,
          '--signature',
          sigText,
          '--image-digest',
          `sha256:${'cd'.repeat(32)}`,
          payload,
        ])
      ).code,
    ).toBe(1);
    const tampered = join(dir, 'tampered.json');
    writeFileSync(tampered, readFileSync(payload, 'utf8').replace('r/x', 'r/y'));
    expect((await gantry(['verify-blob', '--key', pub, '--signature', sigFile, tampered])).code).toBe(1);
    expect((await gantry(['verify-blob', '--key', pub, payload])).code).toBe(2);
    expect(
      (await gantry(['verify-blob', '--key', join(dir, 'missing.pub'), '--signature', sigFile, payload]))
        .code,
    ).toBe(2);
  });

  it('gantry sign-blob equivalent: a blob signed by gantry verifies with cosign verify-blob', async () => {
    const { loadSigningKey } = await import('../../src/cosign/keys.js');
    const { signBlob } = await import('../../src/cosign/blob.js');
    const key = await loadSigningKey({ key: join(dir, 'g.key'), password: 'pw', env: {} });
    const blob = join(dir, 'blob.txt');
    writeFileSync(blob, 'some artifact\n');
    writeFileSync(join(dir, 'blob.sig'), signBlob(key, readFileSync(blob)));
    const r = await cosign([
      'verify-blob',
      '--key',
      join(dir, 'g.pub'),
      '--signature',
      join(dir, 'blob.sig'),
      '--insecure-ignore-tlog',
      blob,
    ]);
    expect(r.exitCode, r.stderr).toBe(0);
  });
});

describe('sign-image / verify-image action bodies', () => {
  function actionCtx(env: Record<string, string>) {
    const outputs: Record<string, unknown> = {};
    return {
      outputs,
      ctx: {
        inputs: new Inputs(envInputSource(env)),
        logger: new MemoryLogger(),
        env,
        setOutput: (name: string, value: unknown) => {
          outputs[name] = value;
        },
      },
    };
  }

  it('signs with an inline PEM key and password inputs; the signatures output lists digest and signature-ref', async () => {
    const digest = await pushImage(reg.url, 'act-sign', 'v1');
    const { ctx, outputs } = actionCtx({
      INPUT_IMAGES: `${reg.host}/act-sign:v1`,
      INPUT_KEY: readFileSync(join(dir, 'g.key'), 'utf8'),
      INPUT_PASSWORD: 'pw',
    });
    expect(await signImageAction(ctx)).toBe(0);
    expect(outputs.signatures).toEqual([
      {
        image: `${reg.host}/act-sign:v1`,
        digest,
        'signature-ref': expect.stringContaining(
          `${reg.host}/act-sign:${signatureTag(digest)}@sha256:`,
        ) as unknown,
      },
    ]);
    expect(JSON.stringify(ctx.logger.records)).not.toContain('ENCRYPTED SIGSTORE PRIVATE KEY');
    expect((await cosignVerify(join(dir, 'g.pub'), `${reg.host}/act-sign@${digest}`)).exitCode).toBe(0);

    const verify = actionCtx({
      INPUT_IMAGES: `${reg.host}/act-sign:v1`,
      INPUT_KEY: readFileSync(join(dir, 'g.pub'), 'utf8'),
    });
    expect(await verifyImageAction(verify.ctx)).toBe(0);
    expect(verify.outputs.verified).toBe(true);
    await pushImage(reg.url, 'act-sign', 'unsigned');
    const bad = actionCtx({ INPUT_IMAGES: `${reg.host}/act-sign:unsigned`, INPUT_KEY: join(dir, 'g.pub') });
    expect(await verifyImageAction(bad.ctx)).toBe(1);
    expect(bad.outputs.verified).toBe(false);
  });

  it('mode auto with an OIDC token and no key goes keyless; an unreachable Fulcio is an infrastructure error and nothing is pushed', async () => {
    const digest = await pushImage(reg.url, 'act-keyless', 'v1');
    const { ctx } = actionCtx({
      INPUT_IMAGES: `${reg.host}/act-keyless:v1`,
      'INPUT_FULCIO-URL': 'http://127.0.0.1:9',
      'INPUT_REKOR-URL': 'http://127.0.0.1:9',
      SIGSTORE_ID_TOKEN: 'eyJhbGciOiJub25lIn0.eyJzdWIiOiJ0ZXN0In0.',
    });
    const err = await signImageAction(ctx).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toMatchObject({ code: 'infrastructure' });
    expect(String((err as Error).message)).toMatch(/keyless signing via http:\/\/127\.0\.0\.1:9/);
    expect(await getManifestBytes(reg.url, 'act-keyless', signatureTag(digest))).toBeUndefined();
  });
});
