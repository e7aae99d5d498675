/**
 * What to deploy, as the user wrote it: `deployments` lines `<deployment>[/<container>]=<image>`,
 * where the image is a reference or the name of a build-multiarch target listed in the `images`
 * input (`[{ target, image, digest, ref, … }]`). Parsing is pure and fails with a
 * ConfigurationError naming the input before anything is contacted.
 */
import { ConfigurationError, errorMessage } from '../core/errors.js';
import { familiarName, formatReference, parseReference, type ImageReference } from '../oci/reference.js';

/** One `deployments` line. */
export interface DeployTarget {
  deployment: string;
  /** Undefined: the deployment's only container. */
  container?: string;
  /** The image to deploy (a tag or a digest; tags are resolved in pre-flight). */
  image: ImageReference;
  /** The line as written, for messages. */
  source: string;
}

/** One entry of build-multiarch's `images` output (only the fields used here). */
export interface BuiltImage {
  target: string;
  image?: string;
  digest?: string;
  ref?: string;
}

const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** Parses the `images` input (build-multiarch's JSON output); undefined → no targets. */
export function parseBuiltImages(text: string | undefined, inputName = 'images'): BuiltImage[] {
  if (text === undefined) return [];
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new ConfigurationError(
      `input "${inputName}" is not JSON (${errorMessage(e)}); pass build-multiarch's "images" output as is`,
      { input: inputName },
    );
  }
  const list = Array.isArray(raw) ? raw : [raw];
  return list.map((item, i) => {
    const o = item as Partial<BuiltImage> | null;
    if (!o || typeof o !== 'object' || typeof o.target !== 'string') {
      throw new ConfigurationError(
        `input "${inputName}" entry ${i + 1} has no "target"; expected [{ target, image, digest, ref }]`,
        { input: inputName },
      );
    }
    return o as BuiltImage;
  });
}

function builtReference(b: BuiltImage): string | undefined {
  if (b.ref) return b.ref;
  if (b.image && b.digest) return `${b.image.replace(/@.*$/, '')}@${b.digest}`;
  return b.image;
}

/** Parses the `deployments` lines; `images` resolves target names. */
export function parseDeployTargets(
  lines: readonly string[],
  images: readonly BuiltImage[] = [],
  inputName = 'deployments',
): DeployTarget[] {
  const fail = (line: string, problem: string): never => {
    throw new ConfigurationError(
      `input "${inputName}": "${line}" ${problem}; write one <deployment>[/<container>]=<image> per line`,
      { input: inputName },
    );
  };
  if (lines.length === 0) {
    throw new ConfigurationError(
      `input "${inputName}" is required; write one <deployment>[/<container>]=<image> per line`,
      {
        input: inputName,
      },
    );
  }
  const seen = new Set<string>();
  const targets: DeployTarget[] = [];
  for (const line of lines) {
    const eq = line.indexOf('=');
    if (eq <= 0) fail(line, 'has no "="');
    const left = line.slice(0, eq).trim();
    const right = line.slice(eq + 1).trim();
    if (right === '') fail(line, 'names no image');
    const [deployment = '', container, extra] = left.split('/');
    if (extra !== undefined) fail(line, 'has more than one "/" before "="');
    if (!DNS1123_SUBDOMAIN.test(deployment) || deployment.length > 253) {
      fail(line, `names "${deployment}", not a valid deployment name (lowercase letters, digits, "-", ".")`);
    }
    if (container !== undefined && (!DNS1123_LABEL.test(container) || container.length > 63)) {
      fail(line, `names "${container}", not a valid container name`);
    }
    const key = `${deployment}/${container ?? ''}`;
    if (seen.has(key)) fail(line, 'repeats a deployment/container given on an earlier line');
    seen.add(key);
    const built = images.find((b) => b.target === right);
    const text = built ? builtReference(built) : right;
    if (!text) fail(line, `refers to target "${right}" whose "images" entry has no image or ref`);
    let image: ImageReference;
    try {
      image = parseReference(text as string);
    } catch (e) {
      return fail(line, `has an invalid image reference: ${errorMessage(e)}`);
    }
    targets.push({ deployment, ...(container !== undefined ? { container } : {}), image, source: line });
  }
  return targets;
}

/** `name@sha256:…` — the pinned form written into the pod template (tag dropped). */
export function pinnedImage(image: ImageReference, digest: string): string {
  return `${familiarName(image)}@${digest}`;
}

/** Whether a pod-template image string is already exactly `image` pinned at `digest`. */
export function isPinnedTo(current: string | undefined, image: ImageReference, digest: string): boolean {
  if (!current) return false;
  try {
    const cur = parseReference(current);
    return cur.digest === digest && cur.domain === image.domain && cur.path === image.path;
  } catch {
    return false;
  }
}

export function describeImage(image: ImageReference): string {
  return formatReference(image);
}
