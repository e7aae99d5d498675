import { ConfigurationError } from '../../core/errors.js';
import { Inputs, flagInputSource } from '../../core/inputs.js';
import { readSignInputs } from '../../cosign/inputs.js';
import { runSign } from '../../cosign/run.js';
import type { Command, CommandContext } from '../command.js';

/**
 * `gantry sign --key <key> <image-ref>…` — the CLI twin of the sign-image action. The key is a path
 * or env://VAR (inline PEM would show in the process list); the password comes from
 * COSIGN_PASSWORD or --password-stdin, never from argv.
 */
export const signCommand: Command = {
  name: 'sign',
  summary: 'sign images with a cosign-compatible key (= sign-image)',
  usage: '<image-ref>…',
  options: [
    {
      name: 'key',
      type: 'string',
      placeholder: 'path|env://VAR',
      description: 'cosign private key (file or env://VAR)',
    },
    {
      name: 'password',
      type: 'string',
      secret: true,
      description: 'use COSIGN_PASSWORD or --password-stdin',
    },
    { name: 'password-stdin', type: 'boolean', description: 'read the key password from stdin' },
    {
      name: 'mode',
      type: 'string',
      placeholder: 'key|keyless|auto',
      description: 'signing mode (default auto)',
    },
    {
      name: 'annotations',
      type: 'list',
      placeholder: 'k=v',
      description: "annotation for the payload's optional section",
    },
    { name: 'recursive', type: 'boolean', description: 'for an index: also sign every platform manifest' },
    {
      name: 'format',
      type: 'string',
      placeholder: 'legacy|bundle',
      description: 'legacy .sig tag (default) or bundle: a Sigstore bundle as an OCI referrer (cosign v3)',
    },
    { name: 'fulcio-url', type: 'string', placeholder: 'url', description: 'Fulcio for keyless signing' },
    { name: 'rekor-url', type: 'string', placeholder: 'url', description: 'Rekor for keyless signing' },
  ],
  details:
    'Exit codes: 0 signed and verified after push, 2 bad input (wrong password: nothing pushed), 3 registry error.\nRegistry credentials: GANTRY_REGISTRY_USERNAME/GANTRY_REGISTRY_PASSWORD, else the docker config.',
  async run(ctx) {
    const flags = await cliFlags(ctx);
    const inputs = readSignInputs(new Inputs(flagInputSource(flags)));
    const signed = await runSign(inputs, { env: ctx.io.env, logger: ctx.logger });
    ctx.result(
      { signatures: signed },
      signed
        .map(
          (s) =>
            `signed ${s.image} ${s.digest} → ${s['signature-ref']}${s.pushed ? '' : ' (already signed)'}`,
        )
        .join('\n'),
    );
    return 0;
  },
};

/** Flags plus positionals as `images`, the password from stdin or COSIGN_PASSWORD. */
async function cliFlags(ctx: CommandContext): Promise<Record<string, string | undefined>> {
  const flags: Record<string, string | undefined> = { ...ctx.flags };
  if (ctx.positionals.length) flags.images = ctx.positionals.join('\n');
  if (flags.key?.includes('-----BEGIN')) {
    throw new ConfigurationError(
      '--key must be a path or env://VAR; a PEM on the command line would show in the process list',
      {
        input: '--key',
      },
    );
  }
  if (flags['password-stdin'] === 'true') {
    if (!ctx.io.readStdin)
      throw new ConfigurationError('--password-stdin: no stdin available', { input: '--password-stdin' });
    flags.password = (await ctx.io.readStdin()).replace(/\r?\n$/, '');
  } else if (ctx.io.env.COSIGN_PASSWORD !== undefined) {
    flags.password = ctx.io.env.COSIGN_PASSWORD;
  }
  return flags;
}
