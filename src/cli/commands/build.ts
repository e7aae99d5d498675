import { ConfigurationError } from '../../core/errors.js';
import { Inputs, type InputSource } from '../../core/inputs.js';
import { buildImages, formatBytes } from '../../build/build-images.js';
import { getBuildInputs } from '../../build/inputs.js';
import { imagesOutput } from '../../build/summary.js';
import type { Command } from '../command.js';

/**
 * `gantry build`: the CLI twin of the build-multiarch action, same option names. The password
 * never comes from argv: `--password-stdin`, or GANTRY_REGISTRY_PASSWORD in the environment.
 * `--json` prints the action's `images` output.
 */
export const buildCommand: Command = {
  name: 'build',
  summary: 'build every target for every platform, push with safe tags, verify digests (= build-multiarch)',
  options: [
    {
      name: 'image',
      type: 'string',
      placeholder: 'repo',
      description: 'image repository or template with {target}',
    },
    {
      name: 'targets',
      type: 'list',
      placeholder: 'stage',
      description: 'Dockerfile stages to build, one image each',
    },
    { name: 'context', type: 'string', placeholder: 'dir', description: 'build context (default .)' },
    {
      name: 'file',
      type: 'string',
      placeholder: 'path',
      description: 'Dockerfile (default <context>/Dockerfile)',
    },
    {
      name: 'platforms',
      type: 'list',
      placeholder: 'os/arch',
      description: 'platforms (default linux/amd64)',
    },
    {
      name: 'push',
      type: 'string',
      placeholder: 'true|false',
      description: 'push (default: true except on pull requests)',
    },
    {
      name: 'mode',
      type: 'string',
      placeholder: 'build|platform|merge',
      description: 'build everything, one platform, or merge platforms',
    },
    {
      name: 'builder',
      type: 'string',
      placeholder: 'buildx|buildah',
      description: 'builder (default buildx)',
    },
    {
      name: 'registry',
      type: 'string',
      placeholder: 'host',
      description: 'registry to log in to (default: from --image)',
    },
    { name: 'username', type: 'string', placeholder: 'user', description: 'registry user' },
    {
      name: 'password',
      type: 'string',
      secret: true,
      description: 'use --password-stdin or GANTRY_REGISTRY_PASSWORD',
    },
    { name: 'password-stdin', type: 'boolean', description: 'read the registry password from stdin' },
    { name: 'build-args', type: 'list', placeholder: 'KEY=value', description: 'build arguments' },
    { name: 'secrets', type: 'list', secret: true, description: 'use --secret-envs or --secret-files' },
    {
      name: 'secret-envs',
      type: 'list',
      placeholder: 'id=ENV',
      description: 'build secrets from environment variables',
    },
    { name: 'secret-files', type: 'list', placeholder: 'id=path', description: 'build secrets from files' },
    {
      name: 'cache',
      type: 'string',
      placeholder: 'registry|gha|none',
      description: 'build cache (default registry)',
    },
    { name: 'no-cache', type: 'boolean', description: 'do not use any cache' },
    { name: 'pull', type: 'boolean', description: 'always pull base images' },
    { name: 'provenance', type: 'boolean', description: 'attach a provenance attestation (off by default)' },
    { name: 'sbom', type: 'boolean', description: 'attach an SBOM attestation (off by default)' },
    { name: 'latest', type: 'boolean', description: 'also tag latest' },
    { name: 'tags', type: 'list', placeholder: 'tag', description: 'extra tags' },
    { name: 'labels', type: 'list', placeholder: 'key=value', description: 'extra labels' },
    {
      name: 'digests',
      type: 'list',
      placeholder: 'digest',
      description: 'merge mode: per-platform digests to combine',
    },
  ],
  details:
    'Tags: the full commit SHA and sha-<7> always; the branch on branch pushes; 1.2.3, 1.2, 1 on version tags.',
  async run(ctx) {
    let password: string | undefined;
    if (ctx.flags['password-stdin'] === 'true') {
      if (!ctx.io.readStdin)
        throw new ConfigurationError('--password-stdin: no stdin available', { input: '--password-stdin' });
      password = (await ctx.io.readStdin()).replace(/\r?\n$/, '');
      if (password === '')
        throw new ConfigurationError('--password-stdin: stdin was empty', { input: '--password-stdin' });
    }
    const source: InputSource = {
      get: (name) => (name === 'password' ? password : ctx.inputs.source.get(name)),
      label: (name) => ctx.inputs.source.label(name),
    };
    const inputs = getBuildInputs(new Inputs(source), ctx.io.env);
    const result = await buildImages(inputs, { logger: ctx.logger, env: ctx.io.env, signal: ctx.io.signal });
    const human = result.images.map((i) =>
      i.pushed
        ? `${i.target}\t${i.ref ?? ''}\t${Object.keys(i.platforms).join(',')}\ttags: ${i.tags.join(' ')}`
        : `${i.target}\t${i.image} (not pushed)\t${Object.keys(i.platforms).join(',')}\t${i.sizeBytes === undefined ? '' : formatBytes(i.sizeBytes)}\t${i.durationMs} ms`,
    );
    ctx.result(imagesOutput(result), human.join('\n'));
    return 0;
  },
};
