/**
 * A dynamic `import()` of a CommonJS package returns different shapes in Node and in our esbuild
 * bundles: Node's ESM loader exposes the named exports, while a CommonJS module that esbuild
 * splits into its own chunk (dist/cli.js is split at its commands) exports only `default`
 * (= module.exports). Reading a named export straight off the import therefore passes
 * the tests (which run the sources) and breaks in dist/. This returns module.exports either way.
 */
export function cjsExports<T extends object>(mod: T | { default: T }, probe: keyof T): T {
  if (probe in mod && (mod as T)[probe] !== undefined) return mod as T;
  return (mod as { default: T }).default;
}
