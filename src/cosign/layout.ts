/**
 * cosign's legacy signature storage (specs/SIGNATURE_SPEC.md "Tag-based Discovery"): the
 * signatures of `repo@sha256:<hex>` live in the same repository under the tag `sha256-<hex>.sig`,
 * as an OCI image manifest whose layers are the simple-signing payloads
 * (`application/vnd.dev.cosign.simplesigning.v1+json`) with the signature in the
 * `dev.cosignproject.cosign/signature` annotation. The manifest and its config are written with
 * exactly the bytes cosign (go-containerregistry) writes, so cosign and gantry can append to each
 * other's signature manifests.
 */
import { createHash } from 'node:crypto';
import { GantryError } from '../core/errors.js';
import { SIMPLE_SIGNING_MEDIA_TYPE } from './payload.js';

export const OCI_MANIFEST_MEDIA_TYPE = 'application/vnd.oci.image.manifest.v1+json';
export const OCI_CONFIG_MEDIA_TYPE = 'application/vnd.oci.image.config.v1+json';

const sha256 = (b: Uint8Array): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/** `sha256:<hex>` → `sha256-<hex>.<suffix>` (suffix `sig`, `att`, `sbom`, or another). */
export function signatureTag(digest: string, suffix = 'sig'): string {
  const m = /^([a-z0-9]+):([a-f0-9]+)$/.exec(digest);
  if (!m) throw new GantryError('input', `"${digest}" is not a digest (algorithm:hex)`);
  return `${m[1]}-${m[2]}.${suffix}`;
}

export interface LayerDescriptor {
  mediaType: string;
  size: number;
  digest: string;
  annotations?: Record<string, string>;
}

export interface SignatureManifest {
  schemaVersion: 2;
  mediaType: string;
  config: { mediaType: string; size: number; digest: string };
  layers: LayerDescriptor[];
  annotations?: Record<string, string>;
}

/** A new layer: the payload bytes and their annotations (signature, certificate …). */
export interface NewSignatureLayer {
  payload: Buffer;
  annotations: Record<string, string>;
}

/** The config blob go-containerregistry writes for a signature image (empty.Image + layers). */
export function signatureConfig(layerDigests: string[]): Buffer {
  return Buffer.from(
    JSON.stringify({
      architecture: '',
      created: '0001-01-01T00:00:00Z',
      history: layerDigests.map(() => ({ created: '0001-01-01T00:00:00Z' })),
      os: '',
      rootfs: { type: 'layers', diff_ids: layerDigests },
      config: {},
    }),
  );
}

export interface BuiltSignatureManifest {
  manifest: Buffer;
  config: Buffer;
  /** Layers that need uploading (the new ones). */
  newBlobs: Buffer[];
  layers: LayerDescriptor[];
}

/** The manifest with `existing` layers kept in order and `added` appended. */
export function buildSignatureManifest(
  existing: LayerDescriptor[],
  added: NewSignatureLayer[],
): BuiltSignatureManifest {
  const layers: LayerDescriptor[] = [
    ...existing,
    ...added.map((l) => ({
      mediaType: SIMPLE_SIGNING_MEDIA_TYPE,
      size: l.payload.length,
      digest: sha256(l.payload),
      annotations: l.annotations,
    })),
  ];
  const config = signatureConfig(layers.map((l) => l.digest));
  const manifest: SignatureManifest = {
    schemaVersion: 2,
    mediaType: OCI_MANIFEST_MEDIA_TYPE,
    config: { mediaType: OCI_CONFIG_MEDIA_TYPE, size: config.length, digest: sha256(config) },
    layers: layers.map((l) => ({
      mediaType: l.mediaType,
      size: l.size,
      digest: l.digest,
      ...(l.annotations ? { annotations: l.annotations } : {}),
    })),
  };
  return {
    manifest: Buffer.from(JSON.stringify(manifest)),
    config,
    newBlobs: added.map((l) => l.payload),
    layers,
  };
}

/** Reads a signature manifest's layers; anything that is not an image manifest is an error. */
export function parseSignatureManifest(bytes: Uint8Array): SignatureManifest {
  let m: Partial<SignatureManifest>;
  try {
    m = JSON.parse(Buffer.from(bytes).toString('utf8')) as Partial<SignatureManifest>;
  } catch (e) {
    throw new GantryError('signature-invalid', 'the signature manifest is not JSON', { cause: e });
  }
  if (m.schemaVersion !== 2 || !Array.isArray(m.layers) || !m.config) {
    throw new GantryError('signature-invalid', 'the signature tag does not hold an image manifest');
  }
  for (const l of m.layers) {
    if (typeof l?.digest !== 'string' || typeof l.mediaType !== 'string' || typeof l.size !== 'number') {
      throw new GantryError('signature-invalid', 'the signature manifest has a malformed layer');
    }
  }
  return m as SignatureManifest;
}
