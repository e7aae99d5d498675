import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { GantryError } from '../../core/errors.js';
import type { Command } from '../command.js';

/**
 * `gantry sandbox up|down|status`: the local registry + kubesim. The sandbox is not part of the
 * shipped library (src/ never imports sandbox/), so it lives in its own bundle, dist/sandbox.js,
 * next to dist/cli.js, and this command runs it as a child process with the same arguments.
 */
export function sandboxEntry(env: NodeJS.ProcessEnv): string {
  if (env.GANTRY_SANDBOX_ENTRY) return env.GANTRY_SANDBOX_ENTRY;
  // this module runs from dist/cli.js's chunks folder (dist/chunks/) or, unsplit, from dist/
  const here = dirname(fileURLToPath(import.meta.url));
  const candidates = [join(here, 'sandbox.js'), join(here, '..', 'sandbox.js')];
  return candidates.find((c) => existsSync(c)) ?? candidates[0]!;
}

export const sandboxCommand: Command = {
  name: 'sandbox',
  summary: 'start/stop/inspect the local registry + kubesim cluster (up | down | status)',
  usage: 'up|down|status',
  options: [
    {
      name: 'clock-speed',
      type: 'string',
      placeholder: 'n',
      description: 'kubesim clock speed (10 = 10x faster)',
    },
    {
      name: 'state-dir',
      type: 'string',
      placeholder: 'dir',
      description: 'where the sandbox keeps its state',
    },
  ],
  async run(ctx) {
    const entry = sandboxEntry(ctx.io.env);
    if (!existsSync(entry)) {
      throw new GantryError('infrastructure', `the sandbox bundle ${entry} is missing`, {
        hint: 'run "npm run build" in the gantry checkout',
      });
    }
    const args = [...ctx.positionals];
    for (const [k, v] of Object.entries(ctx.flags)) {
      if (v === undefined || k === 'help' || k === 'verbose') continue;
      args.push(v === 'true' ? `--${k}` : `--${k}=${v}`);
    }
    return new Promise<number>((resolve, reject) => {
      const child = spawn(process.execPath, [entry, ...args], {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: ctx.io.env,
      });
      child.stdout.on('data', (d: Buffer) => ctx.io.stdout(d.toString()));
      child.stderr.on('data', (d: Buffer) => ctx.io.stderr(d.toString()));
      child.on('error', reject);
      child.on('close', (code) => resolve(code ?? 3));
    });
  },
};
