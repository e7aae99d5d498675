import { build } from 'esbuild';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { cjsExports } from '../../src/core/cjs-interop.js';
import { loadYaml } from '../../src/core/yaml.js';

interface StaticUser {
  viaStatic(): unknown;
}
interface DynamicUser {
  viaHelper(): Promise<unknown>;
  naive(): Promise<string>;
}

describe('cjsExports', () => {
  it('accepts both interop shapes of a dynamically imported CommonJS module', () => {
    const exportsObj = { parse: () => 1 };
    expect(cjsExports(exportsObj, 'parse')).toBe(exportsObj);
    expect(cjsExports({ default: exportsObj }, 'parse')).toBe(exportsObj);
  });

  it('loadYaml works in the sources and in a split bundle shaped like dist/cli.js', async () => {
    expect((await loadYaml()).parse('a: 1')).toEqual({ a: 1 });
    // two lazily loaded "commands": one imports yaml statically, one dynamically — yaml lands in a
    // shared chunk and the dynamic import in a chunk that only has a default export
    const dir = await mkdtemp(join(process.cwd(), 'node_modules', '.gantry-interop-'));
    const helper = JSON.stringify(join(process.cwd(), 'src/core/yaml.ts'));
    await writeFile(
      join(dir, 'static-user.ts'),
      "import { parse } from 'yaml';\nexport const viaStatic = () => parse('c: 3');\n",
    );
    await writeFile(
      join(dir, 'dynamic-user.ts'),
      `import { loadYaml } from ${helper};\n` +
        "export async function viaHelper() { return (await loadYaml()).parse('b: 2'); }\n" +
        "export async function naive() { const { parse } = await import('yaml'); return typeof parse; }\n",
    );
    await writeFile(
      join(dir, 'entry.ts'),
      "export const staticUser = () => import('./static-user.ts');\nexport const dynamicUser = () => import('./dynamic-user.ts');\n",
    );
    const outdir = await mkdtemp(join(tmpdir(), 'gantry-interop-out-'));
    try {
      await build({
        entryPoints: { bundle: join(dir, 'entry.ts') },
        outdir,
        outExtension: { '.js': '.mjs' },
        bundle: true,
        splitting: true,
        platform: 'node',
        format: 'esm',
        logLevel: 'silent',
      });
      const entry = (await import(pathToFileURL(join(outdir, 'bundle.mjs')).href)) as {
        staticUser(): Promise<StaticUser>;
        dynamicUser(): Promise<DynamicUser>;
      };
      expect((await entry.staticUser()).viaStatic()).toEqual({ c: 3 });
      const user = await entry.dynamicUser();
      expect(await user.viaHelper()).toEqual({ b: 2 });
      // the trap the helper exists for: the named export is missing from the default-only chunk
      expect(await user.naive()).toBe('undefined');
    } finally {
      await rm(dir, { recursive: true, force: true });
      await rm(outdir, { recursive: true, force: true });
    }
  });
});
