import { existsSync } from 'node:fs';
import { chmod, writeFile } from 'node:fs/promises';
import { ConfigurationError } from '../../core/errors.js';
import { generateCosignKeyPair } from '../../cosign/keys.js';
import type { Command } from '../command.js';

/**
 * `gantry generate-key-pair [--output-key-prefix P]` — writes P.key (ENCRYPTED SIGSTORE PRIVATE
 * KEY, scrypt N=65536, mode 0600) and P.pub, like `cosign generate-key-pair`. The password comes
 * from COSIGN_PASSWORD (may be empty) or --password-stdin.
 */
export const generateKeyPairCommand: Command = {
  name: 'generate-key-pair',
  summary: 'write a cosign-compatible encrypted key pair (<prefix>.key, <prefix>.pub)',
  options: [
    {
      name: 'output-key-prefix',
      type: 'string',
      placeholder: 'P',
      description: 'file name prefix (default cosign)',
    },
    {
      name: 'password-stdin',
      type: 'boolean',
      description: 'read the password from stdin (else COSIGN_PASSWORD)',
    },
    { name: 'force', type: 'boolean', description: 'overwrite existing files' },
  ],
  async run(ctx) {
    let password = ctx.io.env.COSIGN_PASSWORD;
    if (ctx.flags['password-stdin'] === 'true') {
      if (!ctx.io.readStdin)
        throw new ConfigurationError('--password-stdin: no stdin available', { input: '--password-stdin' });
      password = (await ctx.io.readStdin()).replace(/\r?\n$/, '');
    }
    if (password === undefined) {
      throw new ConfigurationError('set COSIGN_PASSWORD (it may be empty) or use --password-stdin', {
        input: 'COSIGN_PASSWORD',
      });
    }
    ctx.logger.mask(password);
    const prefix = ctx.inputs.string('output-key-prefix', 'cosign');
    const keyPath = `${prefix}.key`;
    const pubPath = `${prefix}.pub`;
    if (ctx.flags.force !== 'true') {
      for (const p of [keyPath, pubPath]) {
        if (existsSync(p))
          throw new ConfigurationError(`${p} exists; remove it or pass --force`, {
            input: '--output-key-prefix',
          });
      }
    }
    const pair = await generateCosignKeyPair(password);
    await writeFile(keyPath, pair.privateKeyPem, {
      mode: 0o600,
      flag: ctx.flags.force === 'true' ? 'w' : 'wx',
    });
    await chmod(keyPath, 0o600); // also when --force overwrote a file with wider permissions
    await writeFile(pubPath, pair.publicKeyPem, {
      mode: 0o644,
      flag: ctx.flags.force === 'true' ? 'w' : 'wx',
    });
    ctx.result(
      { privateKey: keyPath, publicKey: pubPath },
      `Private key written to ${keyPath}\nPublic key written to ${pubPath}`,
    );
    return 0;
  },
};
