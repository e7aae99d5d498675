import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { ConfigurationError, errorMessage, isGantryError } from '../../core/errors.js';
import { verifyBlob } from '../../cosign/blob.js';
import { loadVerificationKey } from '../../cosign/keys.js';
import type { Command } from '../command.js';

/**
 * `gantry verify-blob --key <public key> --signature <base64|file> [--image-digest sha256:…] <file>`
 * — offline, like `cosign verify-blob --key`. Exit 0 valid, 1 invalid, 2 bad input.
 */
export const verifyBlobCommand: Command = {
  name: 'verify-blob',
  summary: 'verify a signature over a file offline (like cosign verify-blob)',
  usage: '<payload-file>',
  options: [
    { name: 'key', type: 'list', placeholder: 'path|env://VAR', description: 'public key' },
    {
      name: 'signature',
      type: 'string',
      placeholder: 'base64|file',
      description: 'the signature, or a file holding it',
    },
    {
      name: 'payload',
      type: 'string',
      placeholder: 'file',
      description: 'the signed file (or give it as the argument)',
    },
    {
      name: 'image-digest',
      type: 'string',
      placeholder: 'sha256:…',
      description: 'also require a cosign payload for this digest',
    },
  ],
  async run(ctx) {
    const payloadPath = ctx.flags.payload ?? ctx.positionals[0];
    const keys = ctx.inputs.list('key');
    const signature = ctx.inputs.optional('signature');
    if (!payloadPath)
      throw new ConfigurationError('give the signed file (--payload <file> or as the argument)', {
        input: '--payload',
      });
    if (keys.length === 0)
      throw new ConfigurationError('--key is required (a public key)', { input: '--key' });
    if (!signature)
      throw new ConfigurationError('--signature is required (base64 or a file)', { input: '--signature' });
    const imageDigest = ctx.inputs.optional('image-digest');
    if (imageDigest !== undefined && !/^sha256:[a-f0-9]{64}$/.test(imageDigest)) {
      throw new ConfigurationError(`--image-digest "${imageDigest}" is not sha256:<64 hex>`, {
        input: '--image-digest',
      });
    }
    let blob: Buffer;
    try {
      blob = await readFile(payloadPath);
    } catch (e) {
      throw new ConfigurationError(`cannot read ${payloadPath}: ${errorMessage(e)}`, { input: '--payload' });
    }
    const sig = existsSync(signature) ? await readFile(signature) : signature;
    const verificationKeys = await Promise.all(
      keys.map((key) => loadVerificationKey({ key, env: ctx.io.env, label: '--key' })),
    );
    try {
      const res = verifyBlob({
        keys: verificationKeys,
        blob,
        signature: sig,
        ...(imageDigest ? { imageDigest } : {}),
      });
      ctx.result({ verified: true, key: res.key, payload: res.payload }, `Verified OK (${res.key})`);
      return 0;
    } catch (e) {
      if (!isGantryError(e, 'signature-invalid')) throw e;
      ctx.result({ verified: false, reason: e.message }, `NOT verified: ${e.message}`);
      return 1;
    }
  },
};
