/* global process, performance */
// Benchmark section for scripts/bench.mjs (DESIGN.md "Performance — Signing"): sign and verify one
// image, gantry vs the real cosign 2.5, same key (made by `cosign generate-key-pair`, scrypt
// N=65536), same registry, same run; wall time and HTTP requests counted by the fault proxy.
// Rows: gantry CLI (node startup included), gantry in-process (the library as the sign-image
// action runs it, key decryption included), cosign CLI; then the bundle format (a Sigstore bundle
// as an OCI referrer): gantry in-process `format: bundle` vs cosign 2.5's only bundle writer,
// `attest --new-bundle-format --type https://sigstore.dev/cosign/sign/v1`, read back with
// `verify-attestation --new-bundle-format` (cosign 2.5 `verify` does not read referrers).
//
// Wire-up in scripts/bench.mjs:
//   import { cosignSignSection } from '../test/cosign/bench-section.mjs';
//   const SECTIONS = [ociInspect, buildSection, cosignSignSection];
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fmt, median } from '../../scripts/bench-lib.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const cosignBin = join(root, '.tools', 'bin', 'cosign');
const PASSWORD = 'bench-password';

export const cosignSignSection = {
  name: 'cosign-sign',
  describe: 'sign + verify one image: gantry vs `cosign sign/verify --key` (same key, same registry)',
  async run(ctx) {
    const { startRegistry } = await ctx.importTs('sandbox/registry.ts');
    const { startFaultProxy } = await ctx.importTs('test/fixtures/fault-proxy.ts');
    const { pushTestImage } = await ctx.importTs('test/fixtures/oci-images.ts');
    // bundled with its dependencies (ctx.importTs keeps packages external, unresolvable from tmp)
    const lib = await ctx.importBundled('test/cosign/bench-inprocess.ts');
    const cli = await ctx.cli();
    const reg = await startRegistry();
    ctx.defer(() => reg.stop());
    const proxy = await startFaultProxy({ target: reg.url });
    ctx.defer(() => proxy.stop());

    const dir = mkdtempSync(join(tmpdir(), 'gantry-bench-cosign-'));
    const env = { ...process.env, COSIGN_PASSWORD: PASSWORD, COSIGN_YES: 'true' };
    const gen = await ctx.run(cosignBin, ['generate-key-pair', '--output-key-prefix', join(dir, 'bench')], {
      env,
    });
    if (gen.code !== 0) throw new Error(`cosign generate-key-pair failed: ${gen.stderr}`);
    const key = join(dir, 'bench.key');
    const pub = join(dir, 'bench.pub');
    const flags = ['--allow-insecure-registry', '--allow-http-registry'];
    // bundle rows: an empty predicate (cosign v3's sign statement) and a trusted root with nothing
    // in it (key-based, no transparency log) so cosign does not go to TUF
    const predicate = join(dir, 'empty-predicate.json');
    writeFileSync(predicate, '{}');
    const trustedRoot = join(dir, 'trusted_root.json');
    writeFileSync(
      trustedRoot,
      JSON.stringify({
        mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1',
        tlogs: [],
        certificateAuthorities: [],
        ctlogs: [],
        timestampAuthorities: [],
      }),
    );
    const SIGN_TYPE = 'https://sigstore.dev/cosign/sign/v1';

    let n = 0;
    const fresh = async () => {
      const repo = `bench/sign${n++}`;
      const digest = await pushTestImage(proxy.url, repo, 'v1', { content: `bench ${n} ${Date.now()}` });
      return `${proxy.host}/${repo}@${digest}`;
    };
    const inProcess = {
      sign: (ref) => lib.signOnce(ref, key, PASSWORD),
      verify: (ref) => lib.verifyOnce(ref, pub),
    };
    const tools = {
      'gantry CLI': {
        sign: (ref) => ctx.run('node', [cli, 'sign', '--key', key, ref], { env }),
        verify: (ref) => ctx.run('node', [cli, 'verify', '--key', pub, ref], { env }),
      },
      'gantry in-process': {
        sign: async (ref) => timed(() => inProcess.sign(ref)),
        verify: async (ref) => timed(() => inProcess.verify(ref)),
      },
      'cosign 2.5': {
        sign: (ref) =>
          ctx.run(cosignBin, ['sign', '-y', '--key', key, '--tlog-upload=false', ...flags, ref], { env }),
        verify: (ref) =>
          ctx.run(cosignBin, ['verify', '--key', pub, '--insecure-ignore-tlog', ...flags, ref], { env }),
      },
      'gantry in-process, bundle': {
        sign: async (ref) => timed(() => lib.signOnce(ref, key, PASSWORD, 'bundle')),
        verify: async (ref) => timed(() => lib.verifyOnce(ref, pub, 'bundle')),
      },
      'cosign 2.5 attest/verify-attestation, bundle': {
        sign: (ref) =>
          ctx.run(
            cosignBin,
            [
              'attest',
              '-y',
              '--new-bundle-format',
              '--key',
              key,
              '--type',
              SIGN_TYPE,
              '--predicate',
              predicate,
              '--tlog-upload=false',
              ...flags,
              ref,
            ],
            { env },
          ),
        verify: (ref) =>
          ctx.run(
            cosignBin,
            [
              'verify-attestation',
              '--new-bundle-format',
              '--trusted-root',
              trustedRoot,
              '--key',
              pub,
              '--type',
              SIGN_TYPE,
              '--insecure-ignore-tlog',
              ...flags,
              ref,
            ],
            { env },
          ),
      },
    };
    const results = {};
    for (const name of Object.keys(tools))
      results[name] = { sign: [], signReq: [], verify: [], verifyReq: [] };
    for (let i = 0; i <= ctx.iterations; i++) {
      for (const [name, tool] of Object.entries(tools)) {
        const ref = await fresh();
        let before = proxy.requests.length;
        const s = await tool.sign(ref);
        if (s.code !== 0)
          throw new Error(`${name} sign failed (exit ${s.code}): ${String(s.stderr).slice(-500)}`);
        const signReq = proxy.requests.length - before;
        before = proxy.requests.length;
        const v = await tool.verify(ref);
        if (v.code !== 0)
          throw new Error(`${name} verify failed (exit ${v.code}): ${String(v.stderr).slice(-500)}`);
        if (i === 0) continue; // warm-up
        results[name].sign.push(s.ms);
        results[name].signReq.push(signReq);
        results[name].verify.push(v.ms);
        results[name].verifyReq.push(proxy.requests.length - before);
      }
    }
    const c = results['cosign 2.5'];
    const rows = Object.entries(results).map(([tool, r]) => ({
      tool,
      'sign median ms': fmt(median(r.sign)),
      'sign requests': fmt(median(r.signReq), 0),
      'sign time vs cosign': fmt(median(r.sign) / median(c.sign), 2) + '×',
      'sign requests vs cosign': fmt(median(r.signReq) / median(c.signReq), 2) + '×',
      'verify median ms': fmt(median(r.verify)),
      'verify requests': fmt(median(r.verifyReq), 0),
      'verify time vs cosign': fmt(median(r.verify) / median(c.verify), 2) + '×',
    }));
    ctx.note(
      'every run signs a freshly pushed image (no existing signature manifest); both tools open the same scrypt N=65536 key',
    );
    ctx.note(
      'gantry in-process = the library as the sign-image action runs it (no process start); gantry CLI includes node startup',
    );
    ctx.note(
      'ratios are against the cosign 2.5 legacy row; compare the two bundle rows with each other for the bundle format',
    );
    return { columns: Object.keys(rows[0]), rows };
  },
};

async function timed(fn) {
  const t = performance.now();
  try {
    await fn();
    return { ms: performance.now() - t, code: 0, stderr: '' };
  } catch (e) {
    return { ms: performance.now() - t, code: 1, stderr: String(e?.stack ?? e) };
  }
}
