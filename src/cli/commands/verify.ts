import { ConfigurationError } from '../../core/errors.js';
import { Inputs, flagInputSource } from '../../core/inputs.js';
import { readVerifyInputs } from '../../cosign/inputs.js';
import { runVerify } from '../../cosign/run.js';
import type { Command } from '../command.js';

/**
 * `gantry verify --key <public key> <image-ref>…` — the CLI twin of verify-image: exit 0 when
 * every image has at least one valid signature, 1 otherwise (with the reason per image).
 */
export const verifyCommand: Command = {
  name: 'verify',
  summary: 'verify the cosign signatures of images (= verify-image)',
  usage: '<image-ref>…',
  options: [
    {
      name: 'key',
      type: 'list',
      placeholder: 'path|env://VAR',
      description: 'public key; any of several may match',
    },
    {
      name: 'certificate-identity',
      type: 'string',
      placeholder: 'id',
      description: 'keyless: expected certificate SAN',
    },
    {
      name: 'certificate-identity-regexp',
      type: 'string',
      placeholder: 're',
      description: 'keyless: SAN pattern',
    },
    {
      name: 'certificate-oidc-issuer',
      type: 'string',
      placeholder: 'url',
      description: 'keyless: expected OIDC issuer',
    },
    {
      name: 'certificate-oidc-issuer-regexp',
      type: 'string',
      placeholder: 're',
      description: 'keyless: issuer pattern',
    },
    {
      name: 'trusted-root',
      type: 'string',
      placeholder: 'file',
      description: 'keyless: Sigstore trusted_root.json',
    },
    { name: 'annotations', type: 'list', placeholder: 'k=v', description: 'required payload annotation' },
    { name: 'annotation', type: 'list', placeholder: 'k=v', description: 'same as --annotations' },
    {
      name: 'format',
      type: 'string',
      placeholder: 'legacy|bundle|auto',
      description: 'signature storage to look in (default auto: .sig tag and bundle referrers)',
    },
    {
      name: 'check-reference',
      type: 'boolean',
      description: 'payload docker-reference must name the repository (default true)',
    },
  ],
  details:
    'Exit codes: 0 every image verified, 1 an image is unsigned or its signatures are invalid, 2 bad input, 3 registry error.\nRegistry credentials: GANTRY_REGISTRY_USERNAME/GANTRY_REGISTRY_PASSWORD, else the docker config.',
  async run(ctx) {
    const flags: Record<string, string | undefined> = { ...ctx.flags };
    if (ctx.positionals.length) flags.images = ctx.positionals.join('\n');
    if (flags.annotation)
      flags.annotations = [flags.annotations, flags.annotation].filter(Boolean).join('\n');
    if (flags.key?.includes('-----BEGIN')) {
      throw new ConfigurationError('--key must be a path or env://VAR', { input: '--key' });
    }
    const inputs = readVerifyInputs(new Inputs(flagInputSource(flags)));
    const results = await runVerify(inputs, { env: ctx.io.env, logger: ctx.logger });
    const ok = results.every((r) => r.verified);
    ctx.result(
      { verified: ok, images: results },
      results
        .map((r) =>
          r.verified
            ? `verified ${r.image} ${r.digest ?? ''}`
            : `NOT verified ${r.image}: ${r.problems.join('; ')}`,
        )
        .join('\n'),
    );
    return ok ? 0 : 1;
  },
};
