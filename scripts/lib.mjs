// Shared by scripts/test.mjs, demo.mjs and bench.mjs: make sure npm dependencies and the system
// components exist (installing what is missing, saying so), and put the project's tools on PATH.
// Plain node: runs before node_modules exists.
import { spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const toolsDir = process.env.GANTRY_TOOLS_DIR ?? join(root, '.tools');

export function log(msg) {
  console.log(`[gantry] ${msg}`);
}

export function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { stdio: 'inherit', cwd: root, ...opts });
  if (r.error) throw r.error;
  return r.status ?? 1;
}

/** npm ci when node_modules is missing or older than package-lock.json. */
export function ensureNodeModules() {
  const marker = join(root, 'node_modules', '.package-lock.json');
  const lock = join(root, 'package-lock.json');
  if (existsSync(marker) && statSync(marker).mtimeMs >= statSync(lock).mtimeMs) return;
  log('installing npm dependencies (npm ci)');
  if (run('npm', ['ci', '--no-audit', '--no-fund']) !== 0) {
    console.error('[gantry] npm ci failed; see the output above');
    process.exit(3);
  }
}

const SYSTEM_PROBES = [
  '/usr/bin/docker-registry',
  '/usr/sbin/dockerd',
  '/usr/bin/buildah',
  '/usr/bin/skopeo',
  '/usr/bin/qemu-aarch64-static',
  '/bin/busybox',
];

/** Runs scripts/setup-system when any system component is missing. */
export function ensureSystem() {
  const missing = [
    ...SYSTEM_PROBES.filter((p) => !existsSync(p)),
    ...[join(toolsDir, 'bin', 'cosign'), join(toolsDir, 'cli-plugins', 'docker-buildx')].filter(
      (p) => !existsSync(p),
    ),
  ];
  if (missing.length > 0) {
    log(`system components missing (${missing.join(', ')}): running scripts/setup-system`);
    const code = run('bash', [join(root, 'scripts', 'setup-system')]);
    if (code !== 0) process.exit(code);
  }
  process.env.PATH = `${join(toolsDir, 'bin')}:${process.env.PATH ?? ''}`;
}
