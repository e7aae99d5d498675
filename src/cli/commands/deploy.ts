import { Inputs, type InputSource } from '../../core/inputs.js';
import { deployExitCode, humanReport, readDeployInputs, runDeploy } from '../../kube/run.js';
import type { OptionSpec } from '../args.js';
import type { Command, CommandContext } from '../command.js';

/** Cluster flags shared by `gantry deploy` and `gantry rollout-status`. */
export const clusterOptions: OptionSpec[] = [
  {
    name: 'kubeconfig',
    type: 'string',
    placeholder: 'path',
    description:
      'kubeconfig file (default $KUBECONFIG, ~/.kube/config; its content may also come from GANTRY_KUBECONFIG)',
  },
  { name: 'context', type: 'string', placeholder: 'name', description: 'kubeconfig context' },
  { name: 'server', type: 'string', placeholder: 'url', description: "override the cluster's server URL" },
  {
    name: 'namespace',
    type: 'string',
    placeholder: 'ns',
    description: "namespace (default the context's, else default)",
  },
];

/**
 * Flags, plus the secrets the command line never carries: kubeconfig content from
 * GANTRY_KUBECONFIG (YAML or base64) when --kubeconfig is not given, the registry password from
 * GANTRY_REGISTRY_PASSWORD.
 */
export function cliInputs(ctx: CommandContext): Inputs {
  const source: InputSource = {
    get: (name) => {
      if (name === 'kubeconfig') return ctx.flags.kubeconfig ?? ctx.io.env.GANTRY_KUBECONFIG;
      if (name === 'registry-password')
        return ctx.flags['registry-username'] ? ctx.io.env.GANTRY_REGISTRY_PASSWORD : undefined;
      if (name === 'deployments')
        return [ctx.flags.deployments, ...ctx.positionals].filter(Boolean).join('\n') || undefined;
      return ctx.flags[name];
    },
    label: (name) => (name === 'registry-password' ? 'GANTRY_REGISTRY_PASSWORD' : `--${name}`),
  };
  return new Inputs(source);
}

/** `gantry deploy`: the k3s-deploy action on the command line, same option names. */
export const deployCommand: Command = {
  name: 'deploy',
  summary: 'digest-pinned, signature-gated, atomic rollouts that fail fast and say why (= k3s-deploy)',
  usage: '[<deployment>[/<container>]=<image> …]',
  options: [
    ...clusterOptions,
    {
      name: 'deployments',
      type: 'list',
      placeholder: 'dep[/ctr]=image',
      description: 'what to deploy (or give them as arguments)',
    },
    {
      name: 'images',
      type: 'string',
      placeholder: 'json',
      description: "build-multiarch's images JSON, for target names",
    },
    {
      name: 'verify-key',
      type: 'list',
      placeholder: 'key',
      description: 'cosign public key (path, PEM or env://VAR): refuse unsigned images',
    },
    {
      name: 'verify-certificate-identity',
      type: 'string',
      placeholder: 'san',
      description: 'keyless: the signing certificate identity (e.g. a workflow URL); or also --verify-key',
    },
    {
      name: 'verify-certificate-identity-regexp',
      type: 'string',
      placeholder: 're',
      description: 'keyless: the identity as a regular expression (whole value)',
    },
    {
      name: 'verify-certificate-oidc-issuer',
      type: 'string',
      placeholder: 'url',
      description: 'keyless: the OIDC issuer (e.g. https://token.actions.githubusercontent.com)',
    },
    {
      name: 'verify-certificate-oidc-issuer-regexp',
      type: 'string',
      placeholder: 're',
      description: 'keyless: the issuer as a regular expression (whole value)',
    },
    {
      name: 'verify-trusted-root',
      type: 'string',
      placeholder: 'path',
      description: 'keyless: Sigstore trusted_root.json (Fulcio CAs, Rekor keys)',
    },
    {
      name: 'registry-username',
      type: 'string',
      placeholder: 'user',
      description: 'registry user (password from GANTRY_REGISTRY_PASSWORD)',
    },
    {
      name: 'registry-password',
      type: 'string',
      secret: true,
      description: 'set GANTRY_REGISTRY_PASSWORD instead',
    },
    {
      name: 'migration',
      type: 'string',
      placeholder: 'dep|file',
      description: 'run this Job (deployment template or manifest) first',
    },
    {
      name: 'migration-args',
      type: 'list',
      placeholder: 'arg',
      description: 'args of the migration container',
    },
    { name: 'timeout', type: 'string', placeholder: 'duration', description: 'overall limit (default 10m)' },
    {
      name: 'atomic',
      type: 'boolean',
      description: 'restore every changed deployment on failure (default true; --atomic=false)',
    },
    {
      name: 'change-cause',
      type: 'string',
      placeholder: 'text',
      description: 'kubernetes.io/change-cause (default from the CI environment)',
    },
    {
      name: 'lock',
      type: 'boolean',
      description: "take the namespace's deploy lock (default true; --lock=false)",
    },
    {
      name: 'lock-timeout',
      type: 'string',
      placeholder: 'duration',
      description: 'wait this long for a held lock (default 10m)',
    },
    {
      name: 'dry-run',
      type: 'boolean',
      description: 'pre-flight + server-side dry run + plan; change nothing',
    },
    {
      name: 'restore-timeout',
      type: 'string',
      placeholder: 'duration',
      description: 'wait for restored deployments (default 5m)',
    },
    {
      name: 'ready-grace',
      type: 'string',
      placeholder: 'duration',
      description: 'fail a started container unready this long (default 2m; 0 = off)',
    },
    {
      name: 'unschedulable-grace',
      type: 'string',
      placeholder: 'duration',
      description: 'fail a pod unschedulable this long (default 30s)',
    },
    {
      name: 'check-permissions',
      type: 'boolean',
      description: 'SelfSubjectAccessReview pre-check (default true)',
    },
    {
      name: 'history',
      type: 'boolean',
      description: 'record the run in the history ConfigMap (default true)',
    },
  ],
  details:
    'Exit codes: 0 deployed (or dry run), 1 rollout failed / rolled back / image missing / unsigned,\n' +
    '2 bad input or configuration (nothing changed), 3 cluster or registry unreachable.\n' +
    '--json prints the report (previous, deployed, result, report).\n' +
    'Signature gate: --verify-key, or keyless --verify-certificate-identity + --verify-certificate-oidc-issuer\n' +
    '+ --verify-trusted-root; with both, an image passes when either verifies.',
  async run(ctx) {
    const inputs = readDeployInputs(cliInputs(ctx));
    const out = await runDeploy(inputs, {
      env: ctx.io.env,
      logger: ctx.logger,
      ...(ctx.io.signal ? { signal: ctx.io.signal } : {}),
    });
    ctx.result(out, humanReport(out.report));
    return deployExitCode(out.report);
  },
};
