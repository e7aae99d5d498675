import { familiarString, formatReference, parseReference, referenceName } from '../../oci/reference.js';
import type { Command } from '../command.js';
import { ConfigurationError } from '../../core/errors.js';

/**
 * `gantry ref <image-ref>`: parses and normalizes a reference with docker's grammar and prints its
 * parts. An invalid reference exits 2 with docker's reason ("repository name must be lowercase" …).
 */
export const refCommand: Command = {
  name: 'ref',
  summary: 'parse and normalize an image reference (docker reference grammar)',
  usage: '<image-ref>',
  options: [],
  async run(ctx) {
    const [input, ...extra] = ctx.positionals;
    if (input === undefined || extra.length) {
      throw new ConfigurationError('gantry ref takes exactly one image reference', { input: 'image-ref' });
    }
    const r = parseReference(input);
    const out = {
      input,
      string: formatReference(r),
      name: referenceName(r),
      domain: r.domain,
      path: r.path,
      tag: r.tag ?? null,
      digest: r.digest ?? null,
      familiar: familiarString(r),
    };
    ctx.result(
      out,
      [
        `${out.string}`,
        `  domain:   ${out.domain}`,
        `  path:     ${out.path}`,
        `  tag:      ${out.tag ?? '-'}`,
        `  digest:   ${out.digest ?? '-'}`,
        `  familiar: ${out.familiar}`,
      ].join('\n'),
    );
    return 0;
  },
};
