/**
 * Server configuration from flags and IAMLINK_* environment variables (flags win), checked
 * with zod so that a bad value names its flag and says why.
 */
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { Redacted } from './secrets/redacted.js';

const ROLE_ARN = /^arn:aws[a-z-]*:iam::\d{12}:role\/(?:[\x21-\x7e]+\/)?[\w+=,.@-]{1,64}$/;

/** host:port, with [::1]:port for IPv6. Port 0 picks a free port. */
const listenAddress = z
  .string()
  .regex(/^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):\d{1,5}$/, 'expected host:port, e.g. 127.0.0.1:6875')
  .transform((s, ctx) => {
    const at = s.lastIndexOf(':');
    const host = s.slice(0, at).replace(/^\[|\]$/g, '');
    const port = Number(s.slice(at + 1));
    if (port > 65535) {
      ctx.addIssue({ code: 'custom', message: 'port must be at most 65535' });
      return z.NEVER;
    }
    return { host, port };
  });

const externalIdPrefix = z.string().regex(/^[A-Za-z0-9-]{1,64}$/, 'expected 1 to 64 letters, digits or dashes');

export const configSchema = z.object({
  listen: z.string().default('127.0.0.1:6875').pipe(listenAddress),
  dataDir: z.string().min(1).default('iamlink-data'),
  // Materialize's are `<cloud>-<region>-<organization uuid>-<ordinal>`, 52 characters and more.
  environmentId: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9-]{0,127}$/, 'expected 1 to 128 letters, digits or dashes, starting with a letter or digit').optional(),
  awsExternalIdPrefix: externalIdPrefix.optional(),
  awsConnectionRoleArn: z.string().regex(ROLE_ARN, "expected an IAM role ARN such as 'arn:aws:iam::123456789012:role/iamlink'").optional(),
  secretsKeyFile: z.string().min(1).optional(),
  /** A shared PostgreSQL catalog (several nodes); without it, the embedded one in --data-dir. */
  catalogUrl: z
    .string()
    .regex(/^postgres(ql)?:\/\/\S+$/, "expected a PostgreSQL URL such as 'postgres://iamlink:password@db.example.com:5432/iamlink'")
    .optional(),
  /** trust: any login name is in (loopback only, unless allowInsecureTrust); password: SCRAM-SHA-256. Default: trust on loopback, else password. */
  auth: z.enum(['trust', 'password']).optional(),
  /** A file holding the password of the first superuser (materialize), set when it has none. */
  bootstrapPasswordFile: z.string().min(1).optional(),
  /** PEM files: the server's certificate (chain) and key; with them SSLRequest is answered 'S'. */
  tlsCert: z.string().min(1).optional(),
  tlsKey: z.string().min(1).optional(),
  /** PEM file of the CAs whose client certificates are accepted (a client may present one). */
  tlsCa: z.string().min(1).optional(),
  /** disable: plain text only; allow: TLS when the client asks; require: only TLS. Default: allow with a certificate, else disable. */
  tlsMode: z.enum(['disable', 'allow', 'require']).optional(),
  /** Sessions to the shared catalog for client reads (and as many for catalog work). */
  catalogPoolSize: z.coerce.number().int().min(1).max(1000).default(10),
  logLevel: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'),
  /**
   * The longest a client read may run, and each session's default statement_timeout. On the
   * embedded engine one read holds every other session's reads, so this is also how long one
   * client can make others wait (docs/limits.md).
   */
  statementTimeoutMs: z.coerce.number().int().min(100).max(3_600_000).default(5_000),
  /** Largest frontend message (a query string); the connection is closed past it. */
  maxMessageBytes: z.coerce.number().int().min(64 * 1024).max(1024 * 1024 * 1024).default(8 * 1024 * 1024),
  /** Largest answer of one client read (54000 past it). */
  maxResultBytes: z.coerce.number().int().min(64 * 1024).max(4 * 1024 * 1024 * 1024).default(128 * 1024 * 1024),
  /** Client connections at once, counting those still starting (53300 past it). */
  maxConnections: z.coerce.number().int().min(1).max(100_000).default(1000),
  /** Sessions of one role at once (53300 at login past it). */
  maxConnectionsPerRole: z.coerce.number().int().min(1).max(100_000).default(100),
  /** VALIDATEs one role may have running at once (53400 past it): each holds STS calls. */
  maxValidationsPerRole: z.coerce.number().int().min(1).max(1000).default(16),
  /** Connections one schema may hold (53400 past it). */
  maxConnectionsPerSchema: z.coerce.number().int().min(1).max(10_000_000).default(100_000),
  /** Secrets one schema may hold (53400 past it). */
  maxSecretsPerSchema: z.coerce.number().int().min(1).max(10_000_000).default(100_000),
  /** A session idle inside a transaction this long is closed (25P03); 0: never. */
  idleInTransactionTimeoutMs: z.coerce.number().int().min(0).max(86_400_000).default(120_000),
  /** Time a new connection has to finish its startup. */
  startupTimeoutMs: z.coerce.number().int().min(100).max(600_000).default(10_000),
  /** Catalog changes one transaction (or multi-statement string) may hold (54000 past it). */
  maxTransactionChanges: z.coerce.number().int().min(1).max(10_000).default(100),
  /** On SIGTERM/SIGINT: how long running statements may finish before every connection is closed. */
  shutdownGraceMs: z.coerce.number().int().min(0).max(600_000).default(10_000),
  /** Deadline for each STS call, retries included: `10s`, `2.5s` or `500ms`. */
  awsStsTimeout: z
    .string()
    .default('10s')
    .pipe(
      z
        .string()
        .regex(/^\d+(\.\d+)?(ms|s)$/, "expected a duration such as '10s' or '500ms'")
        .transform((v) => (v.endsWith('ms') ? Number(v.slice(0, -2)) : Number(v.slice(0, -1)) * 1000))
        .pipe(z.number().min(100, 'must be at least 100ms').max(300_000, 'must be at most 300s')),
    ),
});

export type Config = Readonly<z.output<typeof configSchema>> & {
  readonly dataDir: string;
  readonly secretsKeyFile: string;
  readonly tlsMode: 'disable' | 'allow' | 'require';
  readonly auth: 'trust' | 'password';
  /** --allow-insecure-trust: trust authentication beyond loopback, on purpose. */
  readonly allowInsecureTrust: boolean;
  /** IAMLINK_BOOTSTRAP_PASSWORD (an environment variable only: a flag's value shows in ps). */
  readonly bootstrapPassword: Redacted<string> | undefined;
};

/** Switches: flags without a value (their environment variables take true/1). */
const SWITCHES = { 'allow-insecure-trust': 'trust authentication beyond loopback: anyone who reaches the port is in (tests, a private network)' } as const;

/** Whether a listen host is loopback only. */
export function isLoopback(host: string): boolean {
  return /^(127\.\d+\.\d+\.\d+|::1|localhost)$/.test(host);
}

/** Flag name (kebab-case) → config key. */
const FLAGS = {
  listen: 'listen',
  'data-dir': 'dataDir',
  'environment-id': 'environmentId',
  'aws-external-id-prefix': 'awsExternalIdPrefix',
  'aws-connection-role-arn': 'awsConnectionRoleArn',
  'secrets-key-file': 'secretsKeyFile',
  'catalog-url': 'catalogUrl',
  'catalog-pool-size': 'catalogPoolSize',
  'tls-cert': 'tlsCert',
  'tls-key': 'tlsKey',
  'tls-ca': 'tlsCa',
  'tls-mode': 'tlsMode',
  auth: 'auth',
  'bootstrap-password-file': 'bootstrapPasswordFile',
  'log-level': 'logLevel',
  'statement-timeout-ms': 'statementTimeoutMs',
  'max-message-bytes': 'maxMessageBytes',
  'max-result-bytes': 'maxResultBytes',
  'max-connections': 'maxConnections',
  'max-connections-per-role': 'maxConnectionsPerRole',
  'max-validations-per-role': 'maxValidationsPerRole',
  'max-connections-per-schema': 'maxConnectionsPerSchema',
  'max-secrets-per-schema': 'maxSecretsPerSchema',
  'startup-timeout-ms': 'startupTimeoutMs',
  'idle-in-transaction-timeout-ms': 'idleInTransactionTimeoutMs',
  'shutdown-grace-ms': 'shutdownGraceMs',
  'max-transaction-changes': 'maxTransactionChanges',
  'aws-sts-timeout': 'awsStsTimeout',
} as const satisfies Record<string, keyof z.input<typeof configSchema>>;

/** What each flag is for, shown by --help (every flag must have a line). */
const HELP = {
  listen: 'address to listen on, host:port (port 0 picks a free one); loopback unless told otherwise',
  'data-dir': 'the embedded catalog, the secrets key (unless --secrets-key-file) and the lock',
  'environment-id': "this environment's id, as Materialize's: names role sessions (generated on first start)",
  'aws-external-id-prefix': 'external ids are mz_<prefix>_<connection id> (generated on first start)',
  'aws-connection-role-arn': 'the jump role iamlink assumes: the principal customers trust (docs/aws-setup.md)',
  'secrets-key-file': 'AES-256 key for secrets at rest (64 hex characters; created 0600 if missing; required with --catalog-url)',
  'catalog-url': 'postgres://... : keep the catalog in this PostgreSQL database, shared by several nodes (docs/scale-out.md)',
  'catalog-pool-size': 'sessions to the shared catalog for client reads, and as many for catalog work',
  'tls-cert': "PEM file: the server's certificate (and chain); with --tls-key, clients may connect over TLS",
  'tls-key': "PEM file: the server's private key",
  'tls-ca': 'PEM file: CAs whose client certificates are accepted (a presented certificate must verify)',
  'tls-mode': 'disable, allow (TLS when the client asks) or require (no plain-text sessions); default allow with --tls-cert, else disable',
  auth: 'trust (any login name; loopback only unless --allow-insecure-trust) or password (SCRAM-SHA-256); default trust on loopback, else password',
  'bootstrap-password-file': "file holding the first superuser's (materialize's) password, set when it has none (or IAMLINK_BOOTSTRAP_PASSWORD)",
  'log-level': 'trace, debug, info, warn, error, fatal or silent',
  'statement-timeout-ms': "longest a client read may run; each session's default statement_timeout",
  'max-message-bytes': 'largest query string or protocol message',
  'max-result-bytes': 'largest answer of one client read',
  'max-connections': 'client connections at once, half-started ones included',
  'max-connections-per-role': 'sessions of one role at once (53300 at login past it)',
  'max-validations-per-role': 'VALIDATEs one role may have running at once (53400 past it)',
  'max-connections-per-schema': 'AWS connections one schema may hold (53400 past it)',
  'max-secrets-per-schema': 'secrets one schema may hold (53400 past it)',
  'startup-timeout-ms': 'time a new connection has to finish its startup',
  'idle-in-transaction-timeout-ms': 'a session idle inside a transaction this long is closed (25P03); 0 never',
  'shutdown-grace-ms': 'on SIGTERM/SIGINT, how long running statements may finish',
  'max-transaction-changes': 'catalog changes one transaction may hold',
  'aws-sts-timeout': "deadline for each STS call, retries included ('10s', '500ms')",
} as const satisfies Record<keyof typeof FLAGS, string>;

export class ConfigError extends Error {}

const envName = (flag: string): string => `IAMLINK_${flag.toUpperCase().replace(/-/g, '_')}`;

/** A parsed default written back the way the flag takes it. */
function shown(flag: string, value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'object' && value !== null && 'host' in value && 'port' in value) return `${String(value.host)}:${String(value.port)}`;
  if (flag === 'aws-sts-timeout') return `${String(value)}ms`;
  return String(value);
}

/** The --help text: every flag, its environment variable, default and purpose. */
export function helpText(): string {
  const defaults = configSchema.parse({}) as Record<string, unknown>;
  const lines = Object.entries(HELP).map(([flag, help]) => {
    const fallback = shown(flag, defaults[FLAGS[flag as keyof typeof FLAGS]]);
    return `  --${flag} <value>\n      ${help}\n      env ${envName(flag)}${fallback === undefined ? '' : `, default ${fallback}`}`;
  });
  return [
    'Usage: iamlink [flags]',
    '',
    'A PostgreSQL-wire control plane for cross-account AWS IAM role connections.',
    'Connect with psql postgres://materialize@127.0.0.1:6875/materialize',
    '',
    'Flags (each also an IAMLINK_* environment variable; flags win):',
    ...lines,
    ...Object.entries(SWITCHES).map(([flag, help]) => `  --${flag}\n      ${help}\n      env ${envName(flag)}=1`),
    '  --help     print this and exit',
    '  --version  print the version and exit',
    '',
  ].join('\n');
}

/** Build the frozen Config from argv (without node and script) and the environment. */
export function loadConfig(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): Config {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        ...Object.fromEntries(Object.keys(FLAGS).map((f) => [f, { type: 'string' as const }])),
        ...Object.fromEntries(Object.keys(SWITCHES).map((f) => [f, { type: 'boolean' as const }])),
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    throw new ConfigError((err as Error).message);
  }
  const raw: Record<string, unknown> = {};
  for (const [flag, key] of Object.entries(FLAGS)) {
    const value = values[flag] ?? env[envName(flag)];
    if (value !== undefined && value !== '') raw[key] = value;
  }
  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const key = String(issue.path[0]);
    const flag = Object.entries(FLAGS).find(([, k]) => k === key)?.[0] ?? key;
    throw new ConfigError(`invalid --${flag} (or ${envName(flag)}): ${issue.message}`);
  }
  if (parsed.data.catalogUrl !== undefined && parsed.data.secretsKeyFile === undefined) {
    // Every node must hold the same key; one made up by this node would strand the others' secrets.
    throw new ConfigError(`--secrets-key-file (or ${envName('secrets-key-file')}) is required with --catalog-url: every node sharing the catalog needs the same key`);
  }
  const { tlsCert, tlsKey, tlsCa } = parsed.data;
  if ((tlsCert === undefined) !== (tlsKey === undefined)) {
    throw new ConfigError(`--tls-cert and --tls-key (or ${envName('tls-cert')} and ${envName('tls-key')}) go together: give both`);
  }
  if (tlsCert === undefined && (tlsCa !== undefined || (parsed.data.tlsMode ?? 'disable') !== 'disable')) {
    throw new ConfigError(`--${tlsCa !== undefined ? 'tls-ca' : 'tls-mode'} needs --tls-cert and --tls-key: there is no TLS without a server certificate`);
  }
  const allowInsecureTrust = values['allow-insecure-trust'] === true || /^(1|true|yes|on)$/i.test(env[envName('allow-insecure-trust')] ?? '');
  const loopback = isLoopback(parsed.data.listen.host);
  const auth = parsed.data.auth ?? (loopback ? 'trust' : 'password');
  if (auth === 'trust' && !loopback && !allowInsecureTrust) {
    throw new ConfigError(
      `--listen ${parsed.data.listen.host} is beyond loopback and --auth is trust: anyone who reaches the port would be in. ` +
        'Use --auth password (with --bootstrap-password-file or IAMLINK_BOOTSTRAP_PASSWORD), or say --allow-insecure-trust',
    );
  }
  const bootstrap = env.IAMLINK_BOOTSTRAP_PASSWORD;
  const dataDir = resolve(parsed.data.dataDir);
  return Object.freeze({
    ...parsed.data,
    auth,
    allowInsecureTrust,
    bootstrapPassword: bootstrap ? new Redacted(bootstrap) : undefined,
    tlsMode: parsed.data.tlsMode ?? (tlsCert !== undefined ? 'allow' : 'disable'),
    dataDir,
    secretsKeyFile: resolve(parsed.data.secretsKeyFile ?? `${dataDir}/secrets.key`),
  });
}

