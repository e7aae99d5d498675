/**
 * The list of `gantry` subcommands, loaded lazily: a command's module (and the libraries behind
 * it: sigstore, the kube client, …) is evaluated only when that command runs, so `gantry ref` does
 * not pay for `gantry sign`'s start-up. Adding one: write `commands/<name>.ts` exporting a Command
 * and add an entry here; a unit test checks that name and summary match the module's.
 */
import type { Command } from '../command.js';

export interface CommandEntry {
  name: string;
  summary: string;
  load(): Promise<Command>;
}

export const commands: CommandEntry[] = [
  {
    name: 'build',
    summary: 'build every target for every platform, push with safe tags, verify digests (= build-multiarch)',
    load: async () => (await import('./build.js')).buildCommand,
  },
  {
    name: 'sign',
    summary: 'sign images with a cosign-compatible key (= sign-image)',
    load: async () => (await import('./sign.js')).signCommand,
  },
  {
    name: 'verify',
    summary: 'verify the cosign signatures of images (= verify-image)',
    load: async () => (await import('./verify.js')).verifyCommand,
  },
  {
    name: 'verify-blob',
    summary: 'verify a signature over a file offline (like cosign verify-blob)',
    load: async () => (await import('./verify-blob.js')).verifyBlobCommand,
  },
  {
    name: 'generate-key-pair',
    summary: 'write a cosign-compatible encrypted key pair (<prefix>.key, <prefix>.pub)',
    load: async () => (await import('./generate-key-pair.js')).generateKeyPairCommand,
  },
  {
    name: 'deploy',
    summary: 'digest-pinned, signature-gated, atomic rollouts that fail fast and say why (= k3s-deploy)',
    load: async () => (await import('./deploy.js')).deployCommand,
  },
  {
    name: 'rollout-status',
    summary: 'wait for deployments to finish rolling out; fail fast with the cause (= k3s-deploy wait)',
    load: async () => (await import('./rollout-status.js')).rolloutStatusCommand,
  },
  {
    name: 'smoke',
    summary: 'HTTP health checks that tell a healthy release from a broken one (= smoke-test)',
    load: async () => (await import('./smoke.js')).smokeCommand,
  },
  {
    name: 'rollback',
    summary:
      'roll back to an exact known state (previous, revision, commit, last good, image) and wait until healthy (= rollback)',
    load: async () => (await import('./rollback.js')).rollbackCommand,
  },
  {
    name: 'release',
    summary: 'deploy → smoke test → roll back automatically if the smoke test fails → smoke test again',
    load: async () => (await import('./release.js')).releaseCommand,
  },
  {
    name: 'ref',
    summary: 'parse and normalize an image reference (docker reference grammar)',
    load: async () => (await import('./ref.js')).refCommand,
  },
  {
    name: 'inspect',
    summary: 'resolve an image reference to its digest and list its platforms',
    load: async () => (await import('./inspect.js')).inspectCommand,
  },
  {
    name: 'sandbox',
    summary: 'start/stop/inspect the local registry + kubesim cluster (up | down | status)',
    load: async () => (await import('./sandbox.js')).sandboxCommand,
  },
  {
    name: 'demo',
    summary: 'run the whole pipeline on the sample app against the local sandbox',
    load: async () => (await import('./demo.js')).demoCommand,
  },
];
