/**
 * Lazy access to the `yaml` package (287 kB: loaded only by the code paths that parse YAML, to
 * keep action cold starts short). `yaml` is CommonJS for Node; in an esbuild ESM bundle a dynamic
 * `import('yaml')` yields only `default` (Node-mode interop), while Node's own ESM loader also
 * exposes the named exports. Both shapes are accepted here — reading `parse` off the dynamic
 * import directly works in tests and breaks in dist/ (it did: "parse is not a function").
 */
type YamlModule = typeof import('yaml');

export async function loadYaml(): Promise<YamlModule> {
  const mod = (await import('yaml')) as YamlModule & { default?: YamlModule };
  return typeof mod.parse === 'function' ? mod : (mod.default as YamlModule);
}
