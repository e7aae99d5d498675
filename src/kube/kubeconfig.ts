/**
 * Where the cluster is and who we are: a kubeconfig given as a path, as raw YAML, or as base64
 * (the usual shape of a CI secret), resolved to one context's server, TLS material and
 * credentials. The content is a secret: every credential in it is registered with the masker, it
 * is parsed in memory and never written anywhere (DESIGN.md: secrets are never persisted).
 *
 * Supported credentials: bearer `token` / `tokenFile`, client certificates (`*-data` or files),
 * basic auth. `exec` and `auth-provider` plugins are refused with a ConfigurationError — a CI
 * deployer should use a ServiceAccount token (examples/rbac.yaml).
 */
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';
import { ConfigurationError, errorMessage } from '../core/errors.js';
import type { Masker } from '../core/mask.js';
import { loadYaml } from '../core/yaml.js';

/** A resolved connection: everything the HTTP client needs. */
export interface ClusterConnection {
  server: string;
  context: string;
  /** The context's namespace, if it names one. */
  namespace?: string;
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  token?: string;
  username?: string;
  password?: string;
  insecureSkipTlsVerify: boolean;
  tlsServerName?: string;
}

export interface KubeconfigSource {
  /** The `kubeconfig` input: a path, raw YAML, or base64 of it. */
  kubeconfig?: string;
  /** Name of the input, for messages. */
  inputName?: string;
  context?: string;
  /** Overrides the cluster's server URL (a k3s kubeconfig says https://127.0.0.1:6443). */
  server?: string;
  env?: NodeJS.ProcessEnv;
  masker?: Masker;
}

interface RawCluster {
  server?: string;
  'certificate-authority'?: string;
  'certificate-authority-data'?: string;
  'insecure-skip-tls-verify'?: boolean;
  'tls-server-name'?: string;
}
interface RawUser {
  token?: string;
  tokenFile?: string;
  'client-certificate'?: string;
  'client-certificate-data'?: string;
  'client-key'?: string;
  'client-key-data'?: string;
  username?: string;
  password?: string;
  exec?: unknown;
  'auth-provider'?: unknown;
}
interface RawContext {
  cluster?: string;
  user?: string;
  namespace?: string;
}
interface RawKubeconfig {
  'current-context'?: string;
  clusters?: { name?: string; cluster?: RawCluster }[];
  users?: { name?: string; user?: RawUser }[];
  contexts?: { name?: string; context?: RawContext }[];
}

/** How the `kubeconfig` value was given. */
export function kubeconfigKind(value: string): 'yaml' | 'base64' | 'path' {
  const v = value.trim();
  if (/\n/.test(v) || /^(apiVersion|kind|clusters|current-context)\s*:/m.test(v) || v.startsWith('{'))
    return 'yaml';
  if (/^[A-Za-z0-9+/=\s]+$/.test(v) && v.length >= 40 && v.length % 4 === 0) {
    const decoded = Buffer.from(v, 'base64').toString('utf8');
    if (/(clusters|apiVersion)\s*:/.test(decoded) || decoded.trim().startsWith('{')) return 'base64';
  }
  return 'path';
}

async function parseYamlText(text: string, origin: string, inputName: string): Promise<RawKubeconfig> {
  const { parse } = await loadYaml();
  try {
    const doc = parse(text) as unknown;
    if (!doc || typeof doc !== 'object') throw new Error('not a mapping');
    return doc as RawKubeconfig;
  } catch (e) {
    throw new ConfigurationError(`${origin} is not a valid kubeconfig (${errorMessage(e)})`, {
      input: inputName,
    });
  }
}

function readFileFor(path: string, what: string, inputName: string): Buffer {
  try {
    return readFileSync(path);
  } catch (e) {
    throw new ConfigurationError(`${what} "${path}" cannot be read (${errorMessage(e)})`, {
      input: inputName,
    });
  }
}

/** Loads the kubeconfig documents in precedence order (explicit input, else $KUBECONFIG, else ~/.kube/config). */
async function loadDocuments(src: KubeconfigSource): Promise<{ docs: RawKubeconfig[]; origin: string }> {
  const inputName = src.inputName ?? 'kubeconfig';
  const env = src.env ?? process.env;
  const value = src.kubeconfig?.trim();
  if (value) {
    const kind = kubeconfigKind(value);
    if (kind === 'yaml') {
      src.masker?.add(value);
      return {
        docs: [await parseYamlText(value, `input "${inputName}"`, inputName)],
        origin: `input "${inputName}"`,
      };
    }
    if (kind === 'base64') {
      src.masker?.add(value);
      const text = Buffer.from(value, 'base64').toString('utf8');
      src.masker?.add(text);
      return {
        docs: [await parseYamlText(text, `input "${inputName}" (base64)`, inputName)],
        origin: `input "${inputName}"`,
      };
    }
    const text = readFileFor(value, `kubeconfig file`, inputName).toString('utf8');
    return { docs: [await parseYamlText(text, `kubeconfig file "${value}"`, inputName)], origin: value };
  }
  const paths = (env.KUBECONFIG ?? '').split(delimiter).filter(Boolean);
  const candidates = paths.length > 0 ? paths : [join(env.HOME ?? homedir(), '.kube', 'config')];
  const docs: RawKubeconfig[] = [];
  for (const p of candidates) {
    let text: string;
    try {
      text = readFileSync(p, 'utf8');
    } catch {
      continue; // kubectl skips missing files in KUBECONFIG too
    }
    docs.push(await parseYamlText(text, `kubeconfig file "${p}"`, inputName));
  }
  if (docs.length === 0) {
    throw new ConfigurationError(
      `no kubeconfig: give input "${inputName}" (a path, the YAML, or base64 of it) or set KUBECONFIG`,
      { input: inputName },
    );
  }
  return { docs, origin: candidates.join(delimiter) };
}

function findNamed<T>(
  docs: RawKubeconfig[],
  list: 'clusters' | 'users' | 'contexts',
  key: 'cluster' | 'user' | 'context',
  name: string,
): T | undefined {
  for (const d of docs) {
    const entries = (d[list] ?? []) as Record<string, unknown>[];
    const hit = entries.find((e) => e.name === name);
    if (hit) return (hit[key] ?? {}) as T;
  }
  return undefined;
}

function decodeData(value: string, what: string, inputName: string): Buffer {
  const buf = Buffer.from(value, 'base64');
  if (buf.length === 0)
    throw new ConfigurationError(`kubeconfig ${what} is not base64`, { input: inputName });
  return buf;
}

/** Resolves the kubeconfig to one connection; throws a ConfigurationError naming what is wrong. */
export async function loadClusterConnection(src: KubeconfigSource): Promise<ClusterConnection> {
  const inputName = src.inputName ?? 'kubeconfig';
  const { docs, origin } = await loadDocuments(src);
  const contextName = src.context ?? docs.find((d) => d['current-context'])?.['current-context'];
  const fail = (problem: string): never => {
    throw new ConfigurationError(`kubeconfig (${origin}): ${problem}`, {
      input: src.context && problem.includes('context') ? 'context' : inputName,
    });
  };
  if (!contextName) return fail('no current-context and no context given; set input "context"');
  const context = findNamed<RawContext>(docs, 'contexts', 'context', contextName);
  if (!context) return fail(`context "${contextName}" not found`);
  const clusterName = context.cluster ?? '';
  const cluster = findNamed<RawCluster>(docs, 'clusters', 'cluster', clusterName);
  if (!cluster) return fail(`cluster "${clusterName}" (context "${contextName}") not found`);
  const user = context.user ? (findNamed<RawUser>(docs, 'users', 'user', context.user) ?? {}) : {};
  if (user.exec !== undefined || user['auth-provider'] !== undefined) {
    return fail(
      `user "${context.user ?? ''}" authenticates through an exec/auth-provider plugin, which gantry does not run; use a ServiceAccount token (see examples/rbac.yaml)`,
    );
  }
  const server = src.server ?? cluster.server;
  if (!server) return fail(`cluster "${clusterName}" has no server`);
  let url: URL;
  try {
    url = new URL(server);
  } catch {
    return fail(`server "${server}" is not a URL`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return fail(`server "${server}" is not http(s)`);

  const conn: ClusterConnection = {
    server: server.replace(/\/+$/, ''),
    context: contextName,
    insecureSkipTlsVerify: cluster['insecure-skip-tls-verify'] === true,
  };
  if (context.namespace) conn.namespace = context.namespace;
  if (cluster['tls-server-name']) conn.tlsServerName = cluster['tls-server-name'];
  if (cluster['certificate-authority-data']) {
    conn.ca = decodeData(cluster['certificate-authority-data'], 'certificate-authority-data', inputName);
  } else if (cluster['certificate-authority']) {
    conn.ca = readFileFor(cluster['certificate-authority'], 'certificate-authority file', inputName);
  }
  if (user['client-certificate-data'])
    conn.cert = decodeData(user['client-certificate-data'], 'client-certificate-data', inputName);
  else if (user['client-certificate'])
    conn.cert = readFileFor(user['client-certificate'], 'client-certificate file', inputName);
  if (user['client-key-data']) conn.key = decodeData(user['client-key-data'], 'client-key-data', inputName);
  else if (user['client-key']) conn.key = readFileFor(user['client-key'], 'client-key file', inputName);
  if (user.token) conn.token = user.token;
  else if (user.tokenFile)
    conn.token = readFileFor(user.tokenFile, 'tokenFile', inputName).toString('utf8').trim();
  if (user.username !== undefined) conn.username = user.username;
  if (user.password !== undefined) conn.password = user.password;
  if ((conn.cert === undefined) !== (conn.key === undefined)) {
    return fail(`user "${context.user ?? ''}" has a client certificate without its key (or the reverse)`);
  }
  src.masker?.add(conn.token);
  src.masker?.add(conn.password);
  if (conn.key) src.masker?.add(conn.key.toString('utf8'));
  return conn;
}
