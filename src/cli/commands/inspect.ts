import { readFile } from 'node:fs/promises';
import { ConfigurationError } from '../../core/errors.js';
import { inspectImage } from '../../oci/inspect.js';
import { parseReference } from '../../oci/reference.js';
import { RegistryClient, type RegistryClientOptions } from '../../oci/registry.js';
import type { OptionSpec } from '../args.js';
import type { Command, CommandContext } from '../command.js';

/**
 * `gantry inspect <image-ref>`: resolves a tag to its digest (computed from the manifest bytes)
 * and lists an index's platforms. Exit 1 when the image does not exist, 3 when the registry
 * cannot be reached after retries. The registry options below are shared with other commands
 * that talk to a registry (`registryOptions`, `registryClientOptions`).
 */
export const registryOptions: OptionSpec[] = [
  {
    name: 'username',
    type: 'string',
    placeholder: 'user',
    description: 'registry user (password from GANTRY_REGISTRY_PASSWORD or --password-stdin)',
  },
  { name: 'password-stdin', type: 'boolean', description: 'read the registry password from stdin' },
  {
    name: 'password',
    type: 'string',
    secret: true,
    description: 'use GANTRY_REGISTRY_PASSWORD or --password-stdin',
  },
  {
    name: 'plain-http',
    type: 'boolean',
    description: 'talk HTTP, not HTTPS (the default for 127.0.0.1, ::1, localhost; =false forces HTTPS)',
  },
  { name: 'insecure', type: 'boolean', description: 'accept any TLS certificate from the registry' },
  {
    name: 'ca-file',
    type: 'string',
    placeholder: 'pem',
    description: 'extra CA certificate(s) to trust for the registry',
  },
  {
    name: 'retries',
    type: 'string',
    placeholder: 'n',
    description: 'attempts per registry request for transient faults (default 5)',
  },
];

/** Registry client options from the shared flags; the password never comes from argv. */
export async function registryClientOptions(ctx: CommandContext): Promise<RegistryClientOptions> {
  const username = ctx.inputs.optional('username');
  const fromStdin = ctx.inputs.boolean('password-stdin', false);
  let password: string | undefined;
  if (fromStdin) {
    if (!ctx.io.readStdin)
      throw new ConfigurationError('--password-stdin: stdin is not available', { input: '--password-stdin' });
    password = (await ctx.io.readStdin()).replace(/\r?\n$/, '');
    if (!password)
      throw new ConfigurationError('--password-stdin: stdin was empty', { input: '--password-stdin' });
  } else if (username) {
    password = ctx.io.env.GANTRY_REGISTRY_PASSWORD || undefined;
  }
  if (username && !password) {
    throw new ConfigurationError(
      '--username needs a password: set GANTRY_REGISTRY_PASSWORD or pass --password-stdin',
      {
        input: '--username',
      },
    );
  }
  if (password && !username) {
    throw new ConfigurationError('--password-stdin needs --username', { input: '--password-stdin' });
  }
  if (password) ctx.logger.mask(password);
  const caFile = ctx.inputs.optional('ca-file');
  let ca: string | undefined;
  if (caFile) {
    try {
      ca = await readFile(caFile, 'utf8');
    } catch (e) {
      throw new ConfigurationError(`--ca-file ${caFile} cannot be read`, { input: '--ca-file', cause: e });
    }
  }
  const retries = ctx.inputs.int('retries', 5, { min: 1, max: 20 });
  const plainHttp = ctx.inputs.optionalBoolean('plain-http');
  return {
    env: ctx.io.env,
    logger: ctx.logger,
    ...(username && password ? { credentials: { username, password } } : {}),
    ...(plainHttp !== undefined ? { plainHttp } : {}),
    ...(ctx.inputs.boolean('insecure', false) ? { insecureSkipVerify: true } : {}),
    ...(ca ? { ca } : {}),
    retry: { maxAttempts: retries },
    ...(ctx.io.signal ? { signal: ctx.io.signal } : {}),
  };
}

export const inspectCommand: Command = {
  name: 'inspect',
  summary: 'resolve an image reference to its digest and list its platforms',
  usage: '<image-ref>',
  options: registryOptions,
  details:
    'Credentials: --username with GANTRY_REGISTRY_PASSWORD or --password-stdin; else\n' +
    'GANTRY_REGISTRY_USERNAME/GANTRY_REGISTRY_PASSWORD (GANTRY_REGISTRY_HOST limits them to one host);\n' +
    'else the "auths" of $DOCKER_CONFIG/config.json or ~/.docker/config.json; else anonymous.\n' +
    'Exit codes: 0 found, 1 no such image, 2 invalid reference, 3 registry unreachable or auth refused.',
  async run(ctx) {
    const [input, ...extra] = ctx.positionals;
    if (input === undefined || extra.length) {
      throw new ConfigurationError('gantry inspect takes exactly one image reference', {
        input: 'image-ref',
      });
    }
    const ref = parseReference(input);
    const client = new RegistryClient(await registryClientOptions(ctx));
    try {
      const info = await inspectImage(client, ref);
      ctx.result(
        info,
        [
          `${info.reference}`,
          `  digest:    ${info.digest}`,
          `  mediaType: ${info.mediaType}`,
          `  size:      ${info.size}`,
          ...(info.platforms.length
            ? ['  platforms:', ...info.platforms.map((p) => `    ${p.platform.padEnd(16)} ${p.digest}`)]
            : []),
        ].join('\n'),
      );
      return 0;
    } finally {
      client.close();
    }
  },
};
