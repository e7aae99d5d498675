#!/usr/bin/env node
// `npm run bench`: side-by-side measurements, each figure a ratio against a peer measured in the
// same run on the same machine (DESIGN.md "Performance"). Sections are independent; add yours to
// SECTIONS below as { name, describe, run(ctx) → { columns, rows, notes? } }.
//
//   node scripts/bench.mjs                 run every section
//   node scripts/bench.mjs oci-inspect     run the named section(s)
//   node scripts/bench.mjs --iterations 30 --out bench.md
//
// ctx gives sections: ctx.cli() → path of a freshly built dist/cli.js (temp dir, built once),
// ctx.importTs(relPath) → a TypeScript module (fixtures, sandbox) bundled with esbuild and imported,
// ctx.iterations, ctx.tmp, ctx.defer(fn) for cleanup, ctx.run(cmd, args) → { ms, code, stdout, stderr }.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fmt, importTs, median, percentile, root } from './bench-lib.mjs';
import { cosignSignSection } from '../test/cosign/bench-section.mjs';
import { recoverySection } from '../test/rollback/bench-section.mjs';
import { deploySection } from '../test/kube/bench-section.mjs';

// --- helpers ------------------------------------------------------------------------------------
function runTimed(cmd, args, options = {}) {
  return new Promise((resolvePromise, reject) => {
    const started = performance.now();
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...options });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolvePromise({ ms: performance.now() - started, code, stdout, stderr }));
  });
}

function table(columns, rows) {
  const cells = [columns, ...rows.map((r) => columns.map((c) => String(r[c] ?? '')))];
  const widths = columns.map((_, i) => Math.max(...cells.map((r) => r[i].length)));
  const line = (r) => '| ' + r.map((c, i) => c.padEnd(widths[i])).join(' | ') + ' |';
  return [
    line(cells[0]),
    '|' + widths.map((w) => '-'.repeat(w + 2)).join('|') + '|',
    ...cells.slice(1).map(line),
  ].join('\n');
}

// --- sections -----------------------------------------------------------------------------------

/** gantry inspect vs skopeo inspect --raw: wall time and HTTP requests, same registry, same run. */
const ociInspect = {
  name: 'oci-inspect',
  describe:
    '`gantry inspect` vs `skopeo inspect --raw` (wall time per run, HTTP requests counted by a proxy)',
  async run(ctx) {
    const { startRegistry } = await ctx.importTs('sandbox/registry.ts');
    const { startFaultProxy } = await ctx.importTs('test/fixtures/fault-proxy.ts');
    const { pushTestImage, pushTestIndex } = await ctx.importTs('test/fixtures/oci-images.ts');
    const cli = await ctx.cli();
    const reg = await startRegistry();
    ctx.defer(() => reg.stop());
    const proxy = await startFaultProxy({ target: reg.url });
    ctx.defer(() => proxy.stop());
    await pushTestImage(reg.url, 'bench/app', 'single', { content: 'bench single' });
    await pushTestIndex(reg.url, 'bench/app', 'multi', { content: 'bench multi' });

    const tools = {
      gantry: (ref) => ['node', [cli, 'inspect', ref, '--json']],
      'skopeo --raw': (ref) => ['skopeo', ['inspect', '--tls-verify=false', '--raw', `docker://${ref}`]],
    };
    const rows = [];
    for (const tag of ['single', 'multi']) {
      const ref = `${proxy.host}/bench/app:${tag}`;
      const results = {};
      for (const name of Object.keys(tools)) results[name] = { ms: [], requests: [] };
      // warm-up (page cache, registry), then alternate tools so drift hits both alike
      for (const name of Object.keys(tools)) {
        const [cmd, args] = tools[name](ref);
        const r = await ctx.run(cmd, args);
        if (r.code !== 0) throw new Error(`${name} failed (exit ${r.code}): ${r.stderr.slice(-500)}`);
      }
      for (let i = 0; i < ctx.iterations; i++) {
        for (const name of Object.keys(tools)) {
          const [cmd, args] = tools[name](ref);
          const before = proxy.requests.length;
          const r = await ctx.run(cmd, args);
          if (r.code !== 0) throw new Error(`${name} failed (exit ${r.code}): ${r.stderr.slice(-500)}`);
          results[name].ms.push(r.ms);
          results[name].requests.push(proxy.requests.length - before);
        }
      }
      const g = results.gantry;
      const s = results['skopeo --raw'];
      for (const [name, res] of Object.entries(results)) {
        rows.push({
          image: tag === 'single' ? 'single-platform' : '2-platform index',
          tool: name,
          'median ms': fmt(median(res.ms)),
          'p90 ms': fmt(percentile(res.ms, 90)),
          'HTTP requests': fmt(median(res.requests), 0),
          'time vs skopeo': fmt(median(res.ms) / median(s.ms), 2) + '×',
          'requests vs skopeo': fmt(median(res.requests) / median(s.requests), 2) + '×',
        });
      }
      const details = proxy.requests.slice(-(median(g.requests) + median(s.requests)));
      ctx.note(
        `${tag}: last runs' requests: ${details.map((d) => `${d.method} ${d.path.replace(/\/v2\/bench\/app/, '…')} ${d.status}`).join(', ')}`,
      );
    }
    const floor = [];
    for (let i = 0; i < ctx.iterations; i++) floor.push((await ctx.run('node', ['-e', '0'])).ms);
    const offline = [];
    for (let i = 0; i < ctx.iterations; i++) {
      offline.push((await ctx.run('node', [cli, 'ref', `${proxy.host}/bench/app:single`, '--json'])).ms);
    }
    ctx.note(
      `startup floor: node -e 0 median ${fmt(median(floor))} ms; gantry ref (same bundle, no network) median ` +
        `${fmt(median(offline))} ms — the rest of a gantry inspect run is the registry round trip`,
    );
    ctx.note(
      `${ctx.iterations} runs per tool and image, alternating; gantry runs the esbuild bundle on ${process.version}; skopeo ${skopeoVersion()}`,
    );
    ctx.note(
      'skopeo with --tls-verify=false first tries HTTPS; that handshake is not an HTTP request and is not counted',
    );
    return {
      columns: [
        'image',
        'tool',
        'median ms',
        'p90 ms',
        'HTTP requests',
        'time vs skopeo',
        'requests vs skopeo',
      ],
      rows,
    };
  },
};

function skopeoVersion() {
  const r = spawnSync('skopeo', ['--version'], { encoding: 'utf8' });
  return (r.stdout || '').trim().replace(/^skopeo version /, '') || 'unknown';
}

/**
 * gantry build vs plain `docker buildx build --push` of the same context on the same dockerd and
 * registry: the wrapper's overhead (driver detection, plan, digest verification of every tag).
 * Each run changes one file of the context, so every run really builds and pushes a layer.
 */
const buildSection = {
  name: 'build',
  describe: '`gantry build` (push + verify every tag) vs plain `docker buildx build --push`, same context',
  async run(ctx) {
    const { cpSync, writeFileSync: write } = await import('node:fs');
    const { startRegistry } = await ctx.importTs('sandbox/registry.ts');
    const cli = await ctx.cli();
    const reg = await startRegistry();
    ctx.defer(() => reg.stop());
    const { startDockerd } = await ctx.importTs('sandbox/dockerd.ts');
    const docker = await startDockerd({ toolsDir: process.env.GANTRY_TOOLS_DIR ?? join(root, '.tools') });
    ctx.defer(() => docker.stop());
    const env = { ...process.env, ...docker.env, PATH: process.env.PATH };
    const context = join(ctx.tmp, 'build-context');
    cpSync(join(root, 'examples/app'), context, { recursive: true });
    const runnerEnv = {
      ...env,
      GITHUB_EVENT_NAME: 'push',
      GITHUB_REF: 'refs/heads/main',
      GITHUB_SHA: 'b'.repeat(40),
      GITHUB_SERVER_URL: 'https://gitea.example.com',
      GITHUB_REPOSITORY: 'acme/app',
    };
    const sha = runnerEnv.GITHUB_SHA;
    const plainArgs = (tags) => [
      'buildx',
      'build',
      '--progress',
      'plain',
      '--platform',
      'linux/amd64',
      '--target',
      'api',
      '--provenance=false',
      ...tags.flatMap((t) => ['--tag', `${reg.host}/bench/plain:${t}`]),
      '--push',
      context,
    ];
    // the peer pushes the same three tags gantry's rules give a push to main (docker's docker driver
    // pushes each tag separately, so the tag count alone moves the time); one-tag row for reference
    const tools = {
      'docker buildx build --push (3 tags)': () => [
        'docker',
        plainArgs([sha, `sha-${sha.slice(0, 7)}`, 'main']),
        env,
      ],
      'gantry build': () => [
        'node',
        [
          cli,
          'build',
          '--context',
          context,
          '--targets',
          'api',
          '--image',
          `${reg.host}/bench/gantry-{target}`,
          '--cache',
          'none',
          '--json',
        ],
        runnerEnv,
      ],
      'docker buildx build --push (1 tag)': () => ['docker', plainArgs(['main']), env],
    };
    const ms = Object.fromEntries(Object.keys(tools).map((n) => [n, []]));
    let n = 0;
    const once = async (name) => {
      write(join(context, 'api', 'build-id'), `${n++}\n`); // a fresh layer for every run
      const [cmd, args, e] = tools[name]();
      const r = await ctx.run(cmd, args, { env: e });
      if (r.code !== 0) throw new Error(`${name} failed (exit ${r.code}): ${r.stderr.slice(-800)}`);
      return r.ms;
    };
    for (const name of Object.keys(tools)) await once(name); // warm-up
    for (let i = 0; i < ctx.iterations; i++)
      for (const name of Object.keys(tools)) ms[name].push(await once(name));
    const plain = median(ms['docker buildx build --push (3 tags)']);
    ctx.note(
      `${ctx.iterations} runs each, alternating; target api of examples/app, linux/amd64, buildx docker driver`,
    );
    ctx.note(
      'gantry pushes 3 tags (sha, sha-7, branch) and resolves each in the registry; the plain peer pushes the same 3 tags and verifies nothing',
    );
    ctx.note(
      'target: gantry ≤ 1.1× plain (3 tags); the 1-tag row shows what the extra tags cost docker itself',
    );
    return {
      columns: ['tool', 'median ms', 'p90 ms', 'vs plain buildx (3 tags)'],
      rows: Object.entries(ms).map(([tool, xs]) => ({
        tool,
        'median ms': fmt(median(xs)),
        'p90 ms': fmt(percentile(xs, 90)),
        'vs plain buildx (3 tags)': fmt(median(xs) / plain, 2) + '×',
      })),
    };
  },
};

/**
 * Cold start (DESIGN.md: each action bundle starts and parses its inputs in ≤ 150 ms): every
 * action bundle run as a runner runs it — `node dist/<action>.js` with INPUT_* set — up to its
 * first input error (exit 2, nothing contacted), against `node -e 0` in the same run.
 */
const coldStartSection = {
  name: 'cold-start',
  describe: 'each action bundle: start + parse inputs (exit 2 on an invalid input) vs bare `node -e 0`',
  async run(ctx) {
    const cli = await ctx.cli();
    const dist = dirname(cli);
    // an input each action validates before doing anything: the bundle must load fully to reject it
    const badInput = {
      'build-multiarch': { INPUT_IMAGE: 'Not A Valid Ref' },
      'sign-image': { INPUT_IMAGES: 'Not A Valid Ref', INPUT_KEY: 'env://GANTRY_BENCH_NO_KEY' },
      'verify-image': { INPUT_IMAGES: 'Not A Valid Ref' },
      'k3s-deploy': { INPUT_DEPLOYMENTS: 'api=Not A Valid Ref', INPUT_TIMEOUT: 'soon' },
      'smoke-test': { INPUT_URL: 'not a url' },
      rollback: { INPUT_TO: 'sideways' },
    };
    const env = { PATH: process.env.PATH, HOME: process.env.HOME };
    const peer = [];
    const rows = [];
    const results = {};
    for (const name of Object.keys(badInput)) results[name] = [];
    for (let i = 0; i < ctx.iterations; i++) {
      peer.push((await ctx.run(process.execPath, ['-e', '0'], { env })).ms);
      for (const [name, inputs] of Object.entries(badInput)) {
        const r = await ctx.run(process.execPath, [join(dist, `${name}.js`)], { env: { ...env, ...inputs } });
        if (r.code !== 2)
          throw new Error(`${name}: expected exit 2 for a bad input, got ${r.code}: ${r.stdout.slice(-300)}`);
        results[name].push(r.ms);
      }
    }
    const base = median(peer);
    rows.push({
      bundle: 'node -e 0 (peer)',
      'median ms': fmt(base),
      'p90 ms': fmt(percentile(peer, 90)),
      'vs node': '1.00×',
      'target ≤ 150 ms': '',
    });
    for (const [name, xs] of Object.entries(results)) {
      rows.push({
        bundle: `dist/${name}.js`,
        'median ms': fmt(median(xs)),
        'p90 ms': fmt(percentile(xs, 90)),
        'vs node': fmt(median(xs) / base, 2) + '×',
        'target ≤ 150 ms': median(xs) <= 150 ? 'met' : 'MISSED',
      });
    }
    return { columns: ['bundle', 'median ms', 'p90 ms', 'vs node', 'target ≤ 150 ms'], rows };
  },
};

/** Every section, in run order. Other benchmarks append here. */
const SECTIONS = [
  coldStartSection,
  ociInspect,
  buildSection,
  cosignSignSection,
  recoverySection,
  deploySection,
];

// --- driver -------------------------------------------------------------------------------------
const argv = process.argv.slice(2);
const opt = (name, fallback) => {
  const i = argv.indexOf(`--${name}`);
  return i === -1 ? fallback : argv[i + 1];
};
const wanted = argv.filter((a, i) => !a.startsWith('--') && !argv[i - 1]?.startsWith('--'));
const iterations = Number(opt('iterations', '15'));
const outFile = opt('out', undefined);
const unknown = wanted.filter((w) => !SECTIONS.some((s) => s.name === w));
if (unknown.length) {
  console.error(
    `bench: unknown section(s) ${unknown.join(', ')}; known: ${SECTIONS.map((s) => s.name).join(', ')}`,
  );
  process.exit(2);
}

const tmp = mkdtempSync(join(tmpdir(), 'gantry-bench-'));
let cliPath;
const imported = new Map();
const ctxBase = {
  tmp,
  iterations,
  run: runTimed,
  async cli() {
    if (!cliPath) {
      const outdir = join(tmp, 'dist');
      const r = spawnSync(process.execPath, [join(root, 'scripts/build.mjs'), '--outdir', outdir], {
        stdio: 'inherit',
      });
      if (r.status !== 0) throw new Error('bench: building the bundles failed');
      cliPath = join(outdir, 'cli.js');
    }
    return cliPath;
  },
  async importTs(rel) {
    if (!imported.has(rel)) imported.set(rel, await importTs(rel, tmp, { external: true }));
    return imported.get(rel);
  },
  /** A TypeScript module bundled with its npm dependencies. */
  importBundled: (rel) => importTs(rel, tmp),
};

const report = [`# gantry bench — ${new Date().toISOString()}`, ''];
let failed = false;
for (const section of SECTIONS.filter((s) => !wanted.length || wanted.includes(s.name))) {
  const cleanups = [];
  const notes = [];
  const ctx = { ...ctxBase, defer: (fn) => cleanups.push(fn), note: (n) => notes.push(n) };
  console.error(`bench: ${section.name} …`);
  const started = performance.now();
  try {
    const { columns, rows } = await section.run(ctx);
    report.push(
      `## ${section.name}: ${section.describe}`,
      '',
      table(columns, rows),
      '',
      ...notes.map((n) => `- ${n}`),
      '',
    );
  } catch (e) {
    failed = true;
    report.push(`## ${section.name}: FAILED`, '', String(e?.stack ?? e), '');
  } finally {
    for (const fn of cleanups.reverse()) {
      try {
        await fn();
      } catch {
        /* best effort */
      }
    }
  }
  console.error(`bench: ${section.name} done in ${fmt((performance.now() - started) / 1000)} s`);
}
rmSync(tmp, { recursive: true, force: true });
const text = report.join('\n');
console.log(text);
if (outFile) writeFileSync(outFile, text + '\n');
process.exit(failed ? 1 : 0);
