/**
 * What `gantry inspect` reports about an image: the digest a tag resolves to (computed from the
 * manifest bytes), the manifest's media type and size, and for an index the platforms it holds.
 */
import { indexPlatforms, isIndex } from './manifest.js';
import { formatReference, parseReference } from './reference.js';
import type { RefLike, Registry } from './registry.js';

export interface ImageInspection {
  /** The normalized reference that was inspected. */
  reference: string;
  digest: string;
  mediaType: string;
  size: number;
  /** One entry per platform of an index; empty for a single-platform image. */
  platforms: { platform: string; digest: string }[];
}

export async function inspectImage(
  registry: Pick<Registry, 'getManifest'>,
  refLike: RefLike,
): Promise<ImageInspection> {
  const ref = typeof refLike === 'string' ? parseReference(refLike) : refLike;
  const m = await registry.getManifest(ref);
  return {
    reference: formatReference(ref),
    digest: m.digest,
    mediaType: m.mediaType,
    size: m.size,
    platforms: isIndex(m.manifest) ? indexPlatforms(m.manifest) : [],
  };
}
