/**
 * The composition root: the only place real services are constructed and wired together.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { createSecureContext } from 'node:tls';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { fromNodeProviderChain } from '@aws-sdk/credential-providers';
import type { AwsCredentialIdentityProvider } from '@smithy/types';
import { JumpRoleCredentials } from './aws/jump-role.js';
import { AwsSdkSts } from './aws/sts.js';
import { defaultSessionName } from './aws/trust-policy.js';
import { Validator } from './aws/validator.js';
import { Catalog } from './catalog/catalog.js';
import { RESERVED_ROLE_NAMES } from './catalog/model.js';
import { acquireDataDirLock } from './catalog/data-dir-lock.js';
import { migrate } from './catalog/migrations.js';
import { PgliteStore } from './catalog/pglite-store.js';
import { PostgresStore } from './catalog/postgres-store.js';
import type { CatalogStore } from './catalog/store.js';
import { ConfigError, type Config } from './config.js';
import { SqlError, SqlState } from './errors.js';
import { Executor } from './exec/executor.js';
import { initQueryGate } from './exec/query-gate.js';
import type { ValidationContext } from './exec/validation.js';
import { createLogger, type Logger } from './log.js';
import { errorResponse } from './pgwire/backend.js';
import { Connection } from './pgwire/connection.js';
import type { ServerContext, TlsSettings } from './pgwire/server-context.js';
import { loadSecretsKey, SecretCipher } from './secrets/cipher.js';
import { Redacted } from './secrets/redacted.js';
import { mockScramVerifier, parseScramVerifier, verifierMatches, verifierOf } from './secrets/scram-verifier.js';

export interface RunningServer {
  readonly host: string;
  readonly port: number;
  readonly config: Config;
  readonly environmentId: string;
  readonly externalIdPrefix: string;
  /** Where the catalog is: the data directory, or the shared database's URL without its password. */
  readonly catalog: string;
  /** psql-ready connection string. */
  readonly url: string;
  close(): Promise<void>;
}

export interface StartOptions {
  readonly log?: Logger;
  /** Where STS is and who iamlink is there; by default the AWS SDK's (AWS_ENDPOINT_URL, AWS_REGION, the default credential chain). */
  readonly aws?: { readonly endpoint?: string; readonly region?: string; readonly ambient?: AwsCredentialIdentityProvider };
}

/** The first superuser: Materialize's default user, whose password bootstraps password authentication. */
const BOOTSTRAP_USER = 'materialize';


export async function startServer(config: Config, options: StartOptions = {}): Promise<RunningServer> {
  const log = options.log ?? createLogger(config.logLevel);
  const opened = await openStore(config, log);
  const { store } = opened;
  try {
    const cipher = new SecretCipher(await loadSecretsKey(config.secretsKeyFile, !store.capabilities.shared));
    const catalog = new Catalog(cipher, {
      clientLoginRole: store.capabilities.clientLoginRole,
      maxPerSchema: { connection: config.maxConnectionsPerSchema, secret: config.maxSecretsPerSchema },
    });
    // Nodes starting together migrate and settle the catalog one at a time.
    const identity = await store.withMigrationLock(async () => {
      await migrate(store);
      for (const warning of await store.afterMigrations()) log.warn(warning);
      await store.transaction(async (tx) => {
        await catalog.checkIdCounter(tx);
        await catalog.settleSecretsKey(tx);
        await catalog.roles.ensureSuperuser(tx, BOOTSTRAP_USER);
        await catalog.roles.settleEngineRoles(tx);
      });
      return settleIdentity(store, catalog, config);
    });
    const [functions, immutable] = await store.transaction(async (tx) => [await catalog.clientFunctions(tx), await catalog.immutableFunctions(tx)] as const);
    await bootstrapPassword(config, store, catalog, log);
    await initQueryGate(functions, immutable);
    const validation = createValidation(config, identity, options.aws);
    const executor = new Executor({
      store,
      catalog,
      log,
      principalConfigured: config.awsConnectionRoleArn !== undefined,
      maxResultBytes: config.maxResultBytes,
      maxTransactionChanges: config.maxTransactionChanges,
      typeOids: await store.transaction((tx) => catalog.typeOids(tx)),
      validation,
      maxValidationsPerRole: config.maxValidationsPerRole,
    });
    const listener = await listen(config, log, store, catalog, executor);
    const address = listener.server.address() as AddressInfo;
    const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    return {
      host: address.address,
      port: address.port,
      config,
      ...identity,
      catalog: opened.description,
      url: `postgres://materialize@${host}:${address.port}/materialize`,
      close: async () => {
        await listener.close();
        await opened.close();
      },
    };
  } catch (err) {
    await opened.close().catch(() => undefined);
    throw err;
  }
}

/**
 * The catalog store: the shared PostgreSQL database of --catalog-url, or the embedded engine in
 * --data-dir (which one process at a time may hold: its lock).
 */
async function openStore(config: Config, log: Logger): Promise<{ store: CatalogStore; description: string; close(): Promise<void> }> {
  if (config.catalogUrl !== undefined) {
    const store = await PostgresStore.open(config.catalogUrl, {
      poolSize: config.catalogPoolSize,
      // A session the database dropped (a restart): the pool opens a new one at the next statement.
      onPoolError: (err) => log.warn({ err: { message: err.message } }, 'catalog database session lost'),
    });
    return { store, description: describeCatalogUrl(config.catalogUrl), close: () => store.close() };
  }
  await mkdir(config.dataDir, { recursive: true, mode: 0o700 });
  const lock = await acquireDataDirLock(config.dataDir);
  try {
    const store = await PgliteStore.open(`${config.dataDir}/catalog`);
    return {
      store,
      description: config.dataDir,
      close: async () => {
        await store.close();
        await lock.release();
      },
    };
  } catch (err) {
    await lock.release();
    throw err;
  }
}

/**
 * Failed password logins slow down their source address: each failure in the last minute adds
 * 5 ms (at most half a second) to that address's queue, which all its failing logins wait on in
 * turn — parallel guesses pay every delay, not one. Other addresses are not slowed, no one is
 * locked out (that would let anyone lock out a user), and at most 10,000 addresses are kept (the
 * least recently failing go first).
 */
class LoginThrottle {
  private readonly failures = new Map<string, { count: number; last: number; until: number }>();

  /** How long this failure's answer waits. */
  failed(address: string): number {
    const now = Date.now();
    const seen = this.failures.get(address);
    const recent = seen && now - seen.last < 60_000 ? seen : undefined;
    const count = (recent?.count ?? 0) + 1;
    const until = Math.max(now, recent?.until ?? 0) + Math.min(500, 5 * count);
    this.failures.delete(address);
    this.failures.set(address, { count, last: now, until });
    if (this.failures.size > 10_000) this.failures.delete(this.failures.keys().next().value!);
    return until - now;
  }

  succeeded(address: string): void {
    this.failures.delete(address);
  }
}

/** Set the first superuser's password from IAMLINK_BOOTSTRAP_PASSWORD or --bootstrap-password-file, if it has none. */
async function bootstrapPassword(config: Config, store: CatalogStore, catalog: Catalog, log: Logger): Promise<void> {
  let password = config.bootstrapPassword;
  if (!password && config.bootstrapPasswordFile) {
    const text = await readFile(config.bootstrapPasswordFile, 'utf8').catch((err: NodeJS.ErrnoException) => {
      throw new ConfigError(`--bootstrap-password-file ${config.bootstrapPasswordFile}: ${err.code === 'ENOENT' ? 'no such file' : err.message}`);
    });
    const line = text.split(/\r?\n/)[0] ?? '';
    if (line === '') throw new ConfigError(`--bootstrap-password-file ${config.bootstrapPasswordFile} is empty`);
    password = new Redacted(line);
  }
  const outcome = await store.transaction(async (tx) => {
    if (!password) return 'none';
    const stored = await catalog.roles.passwordVerifier(tx, BOOTSTRAP_USER);
    if (stored !== undefined) return verifierMatches(stored, password) ? 'kept' : 'differs';
    const role = await catalog.roles.byName(tx, BOOTSTRAP_USER);
    if (!role) return 'none';
    await catalog.roles.setPasswordVerifier(tx, role.id, verifierOf(password));
    return 'set';
  });
  if (outcome === 'set') log.info({ user: BOOTSTRAP_USER }, 'bootstrap password set');
  // Only the first start sets it: an operator who believes a new one took effect must hear otherwise.
  if (outcome === 'differs') log.warn({ user: BOOTSTRAP_USER }, 'the bootstrap password differs from the one set at the first start, which stays in force');
  if (config.auth === 'password' && !(await store.transaction((tx) => catalog.roles.anyPassword(tx), { rollback: true }))) {
    throw new ConfigError(
      `--auth password, but no role has a password: give the first superuser's (${BOOTSTRAP_USER}) with --bootstrap-password-file or IAMLINK_BOOTSTRAP_PASSWORD`,
    );
  }
}

/** The TLS settings of --tls-cert, --tls-key, --tls-ca and --tls-mode; undefined when disabled. */
async function loadTls(config: Config): Promise<TlsSettings | undefined> {
  if (config.tlsMode === 'disable' || config.tlsCert === undefined || config.tlsKey === undefined) return undefined;
  const read = async (flag: string, path: string): Promise<Buffer> =>
    readFile(path).catch((err: NodeJS.ErrnoException) => {
      throw new ConfigError(`--${flag} ${path}: ${err.code === 'ENOENT' ? 'no such file' : err.message}`);
    });
  const [cert, key, ca] = await Promise.all([read('tls-cert', config.tlsCert), read('tls-key', config.tlsKey), config.tlsCa ? read('tls-ca', config.tlsCa) : undefined]);
  let context;
  try {
    context = createSecureContext({ cert, key, ca, minVersion: 'TLSv1.2' });
  } catch (err) {
    throw new ConfigError(`--tls-cert/--tls-key: ${(err as Error).message} (PEM files of a certificate and its private key expected)`);
  }
  return { context, required: config.tlsMode === 'require', requestCert: ca !== undefined };
}

/** A catalog URL without its password (nor any query parameter, which may hold one), for logs and the start line. */
function describeCatalogUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.username ? `${u.username}@` : ''}${u.host}${u.pathname}`;
  } catch {
    return 'postgres://...';
  }
}

/** The validator and what it needs: STS with deadlines and retries, the cached jump role. */
function createValidation(config: Config, identity: { environmentId: string; externalIdPrefix: string }, aws: StartOptions['aws']): ValidationContext {
  const sts = new AwsSdkSts({ timeoutMs: config.awsStsTimeout, maxAttempts: 4 });
  const defaultTarget = { endpoint: aws?.endpoint, region: aws?.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? 'us-east-1' };
  const jump = config.awsConnectionRoleArn
    ? new JumpRoleCredentials(sts, defaultTarget, aws?.ambient ?? fromNodeProviderChain(), config.awsConnectionRoleArn, defaultSessionName(identity.environmentId, 'jump'))
    : undefined;
  return {
    validator: new Validator(sts, jump),
    environmentId: identity.environmentId,
    externalIdPrefix: identity.externalIdPrefix,
    principal: config.awsConnectionRoleArn,
    defaultTarget,
  };
}

/**
 * The environment id and external id prefix are generated once and kept in the catalog: a
 * later start with a different explicit value is refused, since every external id already
 * handed out to customers would change.
 */
async function settleIdentity(store: CatalogStore, catalog: Catalog, config: Config): Promise<{ environmentId: string; externalIdPrefix: string }> {
  return store.transaction(async (tx) => {
    const settle = async (key: string, flag: string, wanted: string | undefined, generate: () => string): Promise<string> => {
      const stored = await catalog.getSetting(tx, key);
      if (stored !== undefined && wanted !== undefined && wanted !== stored) {
        const where = store.capabilities.shared ? 'the shared catalog' : 'this data directory';
        throw new ConfigError(`--${flag} is '${wanted}' but ${where} was created with '${stored}'; changing it would change the external id of every existing connection`);
      }
      const value = stored ?? wanted ?? generate();
      if (stored === undefined) await catalog.putSetting(tx, key, value);
      return value;
    };
    const environmentId = await settle('environment_id', 'environment-id', config.environmentId, () => `local-${randomUUID()}`);
    const externalIdPrefix = await settle('aws_external_id_prefix', 'aws-external-id-prefix', config.awsExternalIdPrefix, () => randomUUID());
    await catalog.putSetting(tx, 'aws_connection_role_arn', config.awsConnectionRoleArn);
    return { environmentId, externalIdPrefix };
  });
}

async function listen(config: Config, log: Logger, store: CatalogStore, catalog: Catalog, executor: Executor): Promise<{ server: Server; close(): Promise<void> }> {
  const connections = new Map<number, Connection>();
  // Sessions per role (--max-connections-per-role), and each session's login role.
  const sessionsOfRole = new Map<string, number>();
  const roleOfSession = new Map<number, string>();
  // Per process: a mock verifier is the same for a name within a run, unguessable across runs.
  const mockKey = randomBytes(32);
  const throttle = new LoginThrottle();
  let nextPid = 1;
  let allClosed: (() => void) | undefined;
  const ctx: ServerContext = {
    log,
    executor,
    statementTimeoutMs: config.statementTimeoutMs,
    tls: await loadTls(config),
    auth: config.auth,
    verifierFor: async (user) => {
      const stored = await store.transaction((tx) => catalog.roles.passwordVerifier(tx, user), { rollback: true });
      return (stored && parseScramVerifier(stored)) || mockScramVerifier(user, mockKey);
    },
    loginFailed: async (user, remote, reason) => {
      const delayMs = throttle.failed(remote ?? 'unknown');
      log.warn({ user, remote, reason, delayMs }, 'password authentication failed');
      await new Promise((resolve) => setTimeout(resolve, delayMs));
    },
    loginSucceeded: (user, remote) => {
      throttle.succeeded(remote ?? 'unknown');
      log.info({ user, remote }, 'password authentication succeeded');
    },
    limits: {
      maxMessageBytes: config.maxMessageBytes,
      startupTimeoutMs: config.startupTimeoutMs,
      idleInTransactionTimeoutMs: config.idleInTransactionTimeoutMs,
      maxOutputBufferBytes: 4 * 1024 * 1024,
    },
    login: async (user, database, pid) => {
      if (user === '') throw new SqlError(SqlState.invalidAuthorizationSpecification, 'no user name specified in startup packet');
      if (database !== 'materialize') throw new SqlError(SqlState.invalidCatalogName, `database "${database}" does not exist`, { hint: 'Connect to database "materialize".' });
      if (RESERVED_ROLE_NAMES.test(user)) throw new SqlError(SqlState.invalidAuthorizationSpecification, `role "${user}" is reserved`);
      // PostgreSQL's limit is 63 bytes: a longer name would be cut and collide with another.
      if (Buffer.byteLength(user) > 63) throw new SqlError(SqlState.nameTooLong, 'user name is longer than 63 bytes');
      // Only roles made with CREATE ROLE ... LOGIN (or the first superuser) log in: no role is made by logging in.
      const role = await store.transaction((tx) => catalog.roles.byName(tx, user), { rollback: true });
      if (!role) throw new SqlError(SqlState.invalidAuthorizationSpecification, `role "${user}" does not exist`);
      if (!role.login) throw new SqlError(SqlState.invalidAuthorizationSpecification, `role "${user}" is not permitted to log in`);
      const sessions = sessionsOfRole.get(role.id) ?? 0;
      if (sessions >= config.maxConnectionsPerRole) {
        log.warn({ user, limit: config.maxConnectionsPerRole }, 'connection refused: too many sessions of the role');
        throw new SqlError(SqlState.tooManyConnections, `too many connections for role "${user}"`, {
          hint: `A role may hold ${config.maxConnectionsPerRole} sessions at once (--max-connections-per-role).`,
        });
      }
      sessionsOfRole.set(role.id, sessions + 1);
      roleOfSession.set(pid, role.id);
      return { id: role.id, name: role.name, superuser: role.superuser };
    },
    cancel: (pid, secretKey) => {
      const target = connections.get(pid);
      if (target && target.secretKey === secretKey) {
        log.info({ session: pid }, 'cancel request');
        target.cancel();
      }
    },
    closed: (connection) => {
      connections.delete(connection.pid);
      const roleId = roleOfSession.get(connection.pid);
      if (roleId !== undefined) {
        roleOfSession.delete(connection.pid);
        const left = (sessionsOfRole.get(roleId) ?? 1) - 1;
        if (left > 0) sessionsOfRole.set(roleId, left);
        else sessionsOfRole.delete(roleId);
      }
      if (connections.size === 0) allClosed?.();
    },
  };
  const server = createServer((socket) => {
    if (connections.size >= config.maxConnections) {
      // Refused before anything is read: a flood of half-open connections costs no more than this.
      log.warn({ remote: socket.remoteAddress, limit: config.maxConnections }, 'connection refused: too many clients');
      socket.on('error', () => undefined);
      socket.end(errorResponse(new SqlError(SqlState.tooManyConnections, 'sorry, too many clients already', { severity: 'FATAL' })));
      setTimeout(() => socket.destroy(), 1000).unref();
      return;
    }
    const pid = nextPid++;
    connections.set(pid, new Connection(socket, pid, ctx));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.listen.port, config.listen.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    server,
    /**
     * Stop accepting, close idle sessions now, let running statements finish for up to the
     * grace period, then close whatever is left: no client can hold the shutdown open.
     */
    close: async () => {
      const closing = new Promise<void>((resolve) => server.close(() => resolve()));
      const drained = new Promise<void>((resolve) => {
        allClosed = resolve;
        if (connections.size === 0) resolve();
      });
      for (const c of [...connections.values()]) c.shutdown();
      let timer: NodeJS.Timeout | undefined;
      const grace = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, config.shutdownGraceMs);
      });
      await Promise.race([drained, grace]);
      clearTimeout(timer);
      for (const c of [...connections.values()]) c.destroy();
      await closing;
    },
  };
}
