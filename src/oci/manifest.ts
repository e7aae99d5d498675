/**
 * OCI and Docker manifest shapes, media types and the Accept list a client must send so that a
 * registry returns what is stored instead of converting (or refusing) it. Pure data functions:
 * classify a manifest, list an index's platforms.
 */
import { GantryError } from '../core/errors.js';

export const MediaType = {
  OciManifest: 'application/vnd.oci.image.manifest.v1+json',
  OciIndex: 'application/vnd.oci.image.index.v1+json',
  OciConfig: 'application/vnd.oci.image.config.v1+json',
  OciLayer: 'application/vnd.oci.image.layer.v1.tar',
  OciLayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  OciEmpty: 'application/vnd.oci.empty.v1+json',
  DockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  DockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  DockerConfig: 'application/vnd.docker.container.image.v1+json',
  DockerLayerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
} as const;

/** Every manifest type gantry understands, most specific first (sent as Accept). */
export const MANIFEST_MEDIA_TYPES: readonly string[] = [
  MediaType.OciIndex,
  MediaType.OciManifest,
  MediaType.DockerManifestList,
  MediaType.DockerManifest,
];

export const INDEX_MEDIA_TYPES: readonly string[] = [MediaType.OciIndex, MediaType.DockerManifestList];

export interface Platform {
  architecture: string;
  os: string;
  variant?: string;
  'os.version'?: string;
  'os.features'?: string[];
}

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  urls?: string[];
  annotations?: Record<string, string>;
  platform?: Platform;
  artifactType?: string;
  /** Base64 content embedded in the descriptor. */
  data?: string;
}

export interface ImageManifest {
  schemaVersion: 2;
  mediaType?: string;
  artifactType?: string;
  config: Descriptor;
  layers: Descriptor[];
  subject?: Descriptor;
  annotations?: Record<string, string>;
}

export interface ImageIndex {
  schemaVersion: 2;
  mediaType?: string;
  artifactType?: string;
  manifests: Descriptor[];
  subject?: Descriptor;
  annotations?: Record<string, string>;
}

export type Manifest = ImageManifest | ImageIndex;

export function isIndex(m: Manifest): m is ImageIndex {
  return Array.isArray((m as ImageIndex).manifests);
}

export function isIndexMediaType(mediaType: string): boolean {
  return INDEX_MEDIA_TYPES.includes(mediaType);
}

/** `linux/amd64`, `linux/arm64/v8`: the platform string docker and buildx print. */
export function platformString(p: Platform): string {
  return [p.os, p.architecture, p.variant].filter(Boolean).join('/');
}

/**
 * Parses manifest bytes and settles the media type: the registry's Content-Type when it names a
 * manifest type, else the document's own `mediaType`, else its shape (OCI allows omitting it).
 */
export function parseManifest(
  bytes: Uint8Array,
  contentType?: string,
): { manifest: Manifest; mediaType: string } {
  let doc: unknown;
  try {
    doc = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch (e) {
    throw new GantryError('infrastructure', 'the registry returned a manifest that is not JSON', {
      cause: e,
    });
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
    throw new GantryError('infrastructure', 'the registry returned a manifest that is not a JSON object');
  }
  const m = doc as Partial<ImageManifest & ImageIndex>;
  if (m.schemaVersion !== 2) {
    throw new GantryError(
      'infrastructure',
      `unsupported manifest schemaVersion ${String(m.schemaVersion)} (only schema 2 / OCI manifests are supported)`,
    );
  }
  const header = contentType?.split(';')[0]?.trim();
  const mediaType =
    header && MANIFEST_MEDIA_TYPES.includes(header)
      ? header
      : (m.mediaType ?? (Array.isArray(m.manifests) ? MediaType.OciIndex : MediaType.OciManifest));
  if (!Array.isArray(m.manifests) && (typeof m.config !== 'object' || !Array.isArray(m.layers))) {
    throw new GantryError(
      'infrastructure',
      `manifest of type ${mediaType} has neither manifests nor config+layers`,
    );
  }
  return { manifest: doc as Manifest, mediaType };
}

/** The platforms of an index as `{ platform: 'linux/amd64', digest }`, skipping attestation entries. */
export function indexPlatforms(index: ImageIndex): { platform: string; digest: string }[] {
  return index.manifests
    .filter((d) => d.platform && d.platform.os !== 'unknown')
    .map((d) => ({ platform: platformString(d.platform as Platform), digest: d.digest }));
}
