/**
 * Registry authentication pieces that need no network: parsing `WWW-Authenticate` challenges,
 * token scopes, and finding credentials for a registry host.
 *
 * Credentials, first match wins:
 *   1. explicit options (`credentials` of the client: an object, or a function of the host);
 *   2. environment: GANTRY_REGISTRY_USERNAME + GANTRY_REGISTRY_PASSWORD (both or neither); when
 *      GANTRY_REGISTRY_HOST is set they are only offered to that host;
 *   3. a docker config.json ($DOCKER_CONFIG/config.json, else ~/.docker/config.json): `auths`
 *      entries with `auth` (base64 "user:password") or `username` + `password`, keyed by host,
 *      `https://host`, `http://host` or a URL with a path (`https://index.docker.io/v1/` for Docker Hub).
 * Credential helpers (`credsStore`, `credHelpers`) and `identitytoken` are not supported.
 */
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { ConfigurationError } from '../core/errors.js';

export interface Credentials {
  username: string;
  password: string;
}

export interface Challenge {
  scheme: 'basic' | 'bearer' | string;
  params: Record<string, string>;
}

/**
 * Parses a `WWW-Authenticate` header into challenges (RFC 7235: several challenges may share one
 * header; parameter values are tokens or quoted strings with backslash escapes).
 */
export function parseWwwAuthenticate(header: string): Challenge[] {
  const out: Challenge[] = [];
  let i = 0;
  const s = header;
  const skipWs = (): void => {
    while (i < s.length && /[\s,]/.test(s[i] ?? '')) i++;
  };
  while (i < s.length) {
    skipWs();
    const m = /^[A-Za-z0-9!#$%&'*+.^_`|~-]+/.exec(s.slice(i));
    if (!m) break;
    const challenge: Challenge = { scheme: m[0].toLowerCase(), params: {} };
    out.push(challenge);
    i += m[0].length;
    // parameters: name=value pairs until the next bare token (next scheme)
    for (;;) {
      skipWs();
      const pm = /^([A-Za-z0-9!#$%&'*+.^_`|~-]+)\s*=\s*/.exec(s.slice(i));
      if (!pm || !pm[1]) break;
      i += pm[0].length;
      let value = '';
      if (s[i] === '"') {
        i++;
        while (i < s.length && s[i] !== '"') {
          if (s[i] === '\\' && i + 1 < s.length) i++;
          value += s[i];
          i++;
        }
        i++; // closing quote
      } else {
        const vm = /^[^\s,]*/.exec(s.slice(i));
        value = vm?.[0] ?? '';
        i += value.length;
      }
      challenge.params[pm[1].toLowerCase()] = value;
    }
  }
  return out;
}

/** A repository scope for the Bearer token flow: `repository:team/app:pull,push`. */
export function repositoryScope(path: string, actions: readonly string[]): string {
  return `repository:${path}:${actions.join(',')}`;
}

/**
 * Merges scopes so each resource appears once with the union of its actions (a token request
 * with `repository:a:pull` and `repository:a:push` would be fine too, but one is tidier and the
 * cache key is stable).
 */
export function mergeScopes(scopes: readonly string[]): string[] {
  const byResource = new Map<string, Set<string>>();
  for (const scope of scopes) {
    for (const one of scope.split(' ').filter(Boolean)) {
      const cut = one.lastIndexOf(':');
      if (cut === -1) {
        byResource.set(one, byResource.get(one) ?? new Set());
        continue;
      }
      const resource = one.slice(0, cut);
      const set = byResource.get(resource) ?? new Set<string>();
      for (const a of one
        .slice(cut + 1)
        .split(',')
        .filter(Boolean))
        set.add(a);
      byResource.set(resource, set);
    }
  }
  return [...byResource.entries()]
    .map(([r, actions]) => (actions.size ? `${r}:${[...actions].sort().join(',')}` : r))
    .sort();
}

export interface CredentialLookupOptions {
  env?: NodeJS.ProcessEnv;
  /** Path of a docker config.json; false to ignore docker config entirely. */
  dockerConfig?: string | false;
}

/** Credentials from GANTRY_REGISTRY_USERNAME/_PASSWORD for `host`, or undefined. */
export function credentialsFromEnv(host: string, env: NodeJS.ProcessEnv): Credentials | undefined {
  const username = env.GANTRY_REGISTRY_USERNAME || undefined;
  const password = env.GANTRY_REGISTRY_PASSWORD || undefined;
  if (!username && !password) return undefined;
  if (!username || !password) {
    throw new ConfigurationError(
      `GANTRY_REGISTRY_USERNAME and GANTRY_REGISTRY_PASSWORD must be set together (only ${username ? 'the username' : 'the password'} is set)`,
      { input: username ? 'GANTRY_REGISTRY_PASSWORD' : 'GANTRY_REGISTRY_USERNAME' },
    );
  }
  const only = env.GANTRY_REGISTRY_HOST;
  if (only && normalizeHost(only) !== normalizeHost(host)) return undefined;
  return { username, password };
}

function normalizeHost(h: string): string {
  let x = h
    .trim()
    .toLowerCase()
    .replace(/^[a-z]+:\/\//, '');
  x = x.split('/')[0] ?? x;
  if (x === 'index.docker.io' || x === 'registry-1.docker.io') return 'docker.io';
  return x;
}

interface DockerConfigFile {
  auths?: Record<string, { auth?: string; username?: string; password?: string }>;
}

/** The docker config.json path gantry reads: $DOCKER_CONFIG/config.json, else ~/.docker/config.json. */
export function dockerConfigPath(env: NodeJS.ProcessEnv): string {
  const dir = env.DOCKER_CONFIG || join(env.HOME || homedir(), '.docker');
  return join(dir, 'config.json');
}

/** Credentials for `host` from a docker config.json document (already parsed). */
export function credentialsFromDockerConfig(
  host: string,
  config: unknown,
  source = 'config.json',
): Credentials | undefined {
  const auths = (config as DockerConfigFile | null)?.auths;
  if (!auths || typeof auths !== 'object') return undefined;
  const want = normalizeHost(host);
  for (const [key, entry] of Object.entries(auths)) {
    if (normalizeHost(key) !== want || !entry) continue;
    if (entry.auth) {
      const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      if (colon <= 0) {
        throw new ConfigurationError(
          `the "auth" entry for ${key} in ${source} is not base64 of "username:password"`,
          {
            input: source,
          },
        );
      }
      return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
    }
    if (entry.username && entry.password) return { username: entry.username, password: entry.password };
  }
  return undefined;
}

/** Env first, then docker config; undefined when neither has credentials for `host`. */
export function lookupCredentials(
  host: string,
  options: CredentialLookupOptions = {},
): Credentials | undefined {
  const env = options.env ?? process.env;
  const fromEnv = credentialsFromEnv(host, env);
  if (fromEnv) return fromEnv;
  if (options.dockerConfig === false) return undefined;
  const path = options.dockerConfig ?? dockerConfigPath(env);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return undefined; // no docker config: anonymous
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new ConfigurationError(`${path} is not valid JSON`, { input: path, cause: e });
  }
  return credentialsFromDockerConfig(host, doc, path);
}
