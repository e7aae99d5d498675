/**
 * Paths into the shared conformance data (`<repo>/../shared/conformance`, see its README) and the
 * real cosign binary installed by scripts/setup-system.
 */
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const conformanceDir = join(repoRoot, '..', 'shared', 'conformance');
export const cosignBin = join(repoRoot, '.tools', 'bin', 'cosign');

export function conformancePath(...parts: string[]): string {
  return join(conformanceDir, ...parts);
}

export function readConformance(...parts: string[]): string {
  return readFileSync(conformancePath(...parts), 'utf8');
}

export function readConformanceJson<T>(...parts: string[]): T {
  return JSON.parse(readConformance(...parts)) as T;
}
