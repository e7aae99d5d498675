#!/usr/bin/env node
// `npm run demo`: installs what is missing, builds the bundles if needed, and runs `gantry demo`.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ensureNodeModules, ensureSystem, root, run } from './lib.mjs';

ensureNodeModules();
ensureSystem();
if (!existsSync(join(root, 'dist', 'cli.js'))) run('node', [join(root, 'scripts', 'build.mjs')]);
process.exit(run('node', [join(root, 'dist', 'cli.js'), 'demo', ...process.argv.slice(2)]));
