/**
 * Lazy access to the `yaml` package (287 kB: loaded only by the code paths that parse YAML, to
 * keep action cold starts short). `yaml` is CommonJS, hence cjsExports (see there: reading
 * `parse` off the dynamic import directly broke `gantry deploy` in dist/).
 */
import type * as Yaml from 'yaml';
import { cjsExports } from './cjs-interop.js';

type YamlModule = typeof Yaml;

export async function loadYaml(): Promise<YamlModule> {
  return cjsExports<YamlModule>(await import('yaml'), 'parse');
}
