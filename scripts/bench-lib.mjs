// Shared by scripts/bench.mjs and the bench sections that live next to their tests
// (test/*/bench-section.mjs): statistics, number formatting, and loading a TypeScript module
// by bundling it with esbuild.
import { build } from 'esbuild';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export function percentile(xs, p) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
}

export const fmt = (n, digits = 1) => (Number.isFinite(n) ? n.toFixed(digits) : String(n));

/**
 * Imports a TypeScript module of this repository, bundled into `tmp`. With `external` the npm
 * packages stay imports (resolved from this checkout's node_modules); without, they are bundled in.
 */
export async function importTs(rel, tmp, { external = false } = {}) {
  const outfile = join(
    tmp,
    'ts',
    `${rel.replace(/[\\/]/g, '_').replace(/\.ts$/, '')}${external ? '.ext' : ''}.mjs`,
  );
  await build({
    entryPoints: [join(root, rel)],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    logLevel: 'warning',
    ...(external ? { packages: 'external' } : {}),
    banner: {
      js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);",
    },
  });
  return import(pathToFileURL(outfile).href);
}
