/**
 * The list of `gantry` subcommands. Adding one: write `commands/<name>.ts` exporting a Command and
 * add it here (keep the order: the help lists them as written).
 */
import type { Command } from '../command.js';
import { buildCommand } from './build.js';
import { demoCommand } from './demo.js';
import { deployCommand } from './deploy.js';
import { generateKeyPairCommand } from './generate-key-pair.js';
import { inspectCommand } from './inspect.js';
import { refCommand } from './ref.js';
import { releaseCommand } from './release.js';
import { rollbackCommand } from './rollback.js';
import { rolloutStatusCommand } from './rollout-status.js';
import { sandboxCommand } from './sandbox.js';
import { signCommand } from './sign.js';
import { smokeCommand } from './smoke.js';
import { verifyBlobCommand } from './verify-blob.js';
import { verifyCommand } from './verify.js';

export const commands: Command[] = [sandboxCommand, demoCommand, smokeCommand, buildCommand, signCommand, verifyCommand, verifyBlobCommand, generateKeyPairCommand, refCommand, inspectCommand, deployCommand, rolloutStatusCommand, rollbackCommand, releaseCommand];
