import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { rm } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startChild } from '../support/child-server.js';
import { rawConnect } from '../support/raw-client.js';
import { catalogSnapshot, errorOf, freshDataDir, startTestServer, type TestServer } from '../support/server.js';
import { CUSTOMER, startAwsEnv, trustingJump, unique, type AwsEnv } from './aws-env.js';

type Skip = (note?: string) => void;

/** A local port nobody listens on: STS there is refused at once. */
async function closedPort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as { port: number };
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

/** What the client saw of an error, as one string. */
const visible = (e: { message: string; detail?: string; hint?: string }): string => [e.message, e.detail, e.hint].join('\n');

/** The credentials an echo-authorization answer quoted back: access key id, signature and (if sent) session token. */
function quotedCredentials(message: string): string[] {
  const keyId = /Credential=([^/]+)\//.exec(message)?.[1];
  const signature = /Signature=([0-9a-f]{64})/.exec(message)?.[1];
  const token = /X-Amz-Security-Token: (\S+)/.exec(message)?.[1];
  return [keyId, signature, token].filter((x): x is string => x !== undefined);
}

const TRANSIENT_HINT = 'try VALIDATE CONNECTION again';
const UNREACHABLE = 'AWS STS could not be reached';
const POLICIES_HINT = "Check the connection's options and the role's policies";

/** Skip (with the reason printed) what needs the project's emulator: faults, the request log, its clock. */
function requireEmulator(env: AwsEnv, what: string, skip: Skip): void {
  if (env.emulated) return;
  const reason = `skipped against ${env.endpoint}: ${what} needs the project's STS emulator`;
  process.stdout.write(`${reason}\n`);
  skip(reason);
}

describe('VALIDATE CONNECTION through a real STS role chain', () => {
  let env: AwsEnv;
  let server: TestServer;
  let c: pg.Client;
  let enforces = true;
  const requireEnforcement = (skip: Skip): void => {
    if (!enforces) skip(`${env.endpoint} does not enforce role trust policies`);
  };

  const start = (flags: string[] = [], jumpRoleArn = env.jumpRoleArn, endpoint = env.endpoint): Promise<TestServer> =>
    startTestServer(['--aws-connection-role-arn', jumpRoleArn, ...flags], undefined, {
      aws: { endpoint, region: 'us-east-1', ambient: async () => env.ambient },
    });

  const idOf = async (name: string): Promise<string> => (await c.query('SELECT id FROM mz_connections WHERE name = $1', [name])).rows[0].id as string;
  const externalIdOf = async (name: string): Promise<string> =>
    (await c.query('SELECT external_id FROM mz_internal.mz_aws_connections aws JOIN mz_connections c ON aws.id = c.id WHERE c.name = $1', [name])).rows[0].external_id as string;

  /** A connection to a fresh customer role whose trust policy is built from the connection's own external id. */
  async function roleConnection(policy: (externalId: string) => object | undefined): Promise<{ name: string; roleArn: string }> {
    const name = unique('conn').replace('-', '_');
    // Create the connection first (against a placeholder role) to learn its external id, as a user would.
    await c.query(`CREATE CONNECTION ${name} TO AWS (ASSUME ROLE ARN = 'arn:aws:iam::${CUSTOMER}:role/placeholder')`);
    const doc = policy(await externalIdOf(name));
    const roleArn = doc ? await env.customerRole(doc) : `arn:aws:iam::${CUSTOMER}:role/${unique('missing')}`;
    await c.query(`ALTER CONNECTION ${name} SET (ASSUME ROLE ARN = '${roleArn}')`);
    return { name, roleArn };
  }

  beforeAll(async () => {
    env = await startAwsEnv();
    server = await start();
    c = await server.client();
    // Does the target enforce trust policies at all? (LocalStack by default does not.)
    const open = await env.customerRole({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${CUSTOMER}:user/nobody` }, Action: 'sts:AssumeRole' }] });
    const sts = new STSClient({ endpoint: env.endpoint, region: 'us-east-1', credentials: env.ambient, maxAttempts: 1 });
    enforces = await sts.send(new AssumeRoleCommand({ RoleArn: open, RoleSessionName: 'probe' })).then(
      () => false,
      () => true,
    );
    if (!enforces) process.stdout.write(`trust-policy tests skipped: ${env.endpoint} does not enforce role trust policies\n`);
  });
  afterAll(async () => {
    await server?.stop();
    await env?.stop();
  });

  describe('static keys', () => {
    it('succeeds with valid keys, names SignatureDoesNotMatch for a wrong secret, and is fixed by ALTER SECRET', async () => {
      const user = await env.createUserWithKey(CUSTOMER);
      await c.query(`CREATE SECRET keys_secret AS 'not-the-secret'`);
      await c.query(`CREATE CONNECTION keys_conn TO AWS (ACCESS KEY ID = '${user.accessKeyId}', SECRET ACCESS KEY = SECRET keys_secret, REGION = 'us-east-1')`);
      const wrong = await errorOf(c.query('VALIDATE CONNECTION keys_conn'));
      expect(wrong.code).toBe('58000');
      expect(wrong.message).toContain('SignatureDoesNotMatch');
      expect(wrong.detail).toContain("connection's access key → STS GetCallerIdentity");
      expect(wrong.hint).toContain('ALTER SECRET');
      expect([wrong.message, wrong.detail, wrong.hint].join(' ')).not.toContain('not-the-secret');
      await c.query(`ALTER SECRET keys_secret AS '${user.secretAccessKey}'`);
      const ok = await c.query('VALIDATE CONNECTION keys_conn');
      expect(ok.command).toBe('VALIDATE');
      expect(ok.rows).toEqual([]);
      // Each validation is logged with its connection, outcome and hop; never with credentials.
      const id = await idOf('keys_conn');
      const lines = (await server.logText())
        .split('\n')
        .filter((l) => l.includes('"msg":"validation"') && l.includes(`"connection":"${id}"`))
        .map((l) => JSON.parse(l) as Record<string, unknown>);
      expect(lines.map((l) => l.outcome)).toEqual(['58000', 'ok']);
      // A failed validation is a warning for the operator; a successful one is information.
      expect(lines.map((l) => l.level)).toEqual([40, 30]);
      expect(lines[0]).toMatchObject({ hop: 'access key → STS' });
      expect(typeof lines[1]!.durationMs).toBe('number');
      expect(await server.logText()).not.toContain(user.secretAccessKey);
      // A wrong secret of the same length must fail too (no credential-keyed cache may hide it).
      const sameLength = user.secretAccessKey.split('').reverse().join('');
      await c.query(`ALTER SECRET keys_secret AS '${sameLength}'`);
      expect((await errorOf(c.query('VALIDATE CONNECTION keys_conn'))).message).toContain('SignatureDoesNotMatch');
    });

    it('names InvalidClientTokenId for an unknown key', async () => {
      await c.query(`CREATE SECRET unknown_secret AS 'x'`);
      await c.query(`CREATE CONNECTION unknown_key TO AWS (ACCESS KEY ID = 'AKIAUNKNOWNKEY000000', SECRET ACCESS KEY = SECRET unknown_secret)`);
      const err = await errorOf(c.query('VALIDATE CONNECTION unknown_key'));
      expect(err).toMatchObject({ code: '58000' });
      expect(err.message).toContain('InvalidClientTokenId');
    });

    it('names ExpiredToken for expired temporary credentials', async ({ skip }) => {
      requireEmulator(env, 'expiring a session', skip);
      const role = await env.customerRole({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${CUSTOMER}:root` }, Action: 'sts:AssumeRole' }] });
      const sts = new STSClient({ endpoint: env.endpoint, region: 'us-east-1', credentials: { accessKeyId: CUSTOMER, secretAccessKey: 'test' } });
      const { Credentials: t } = await sts.send(new AssumeRoleCommand({ RoleArn: role, RoleSessionName: 'temp', DurationSeconds: 900 }));
      await c.query(`CREATE SECRET temp_secret AS '${t!.SecretAccessKey}'`);
      await c.query(`CREATE SECRET temp_token AS '${t!.SessionToken}'`);
      await c.query(`CREATE CONNECTION temp_conn TO AWS (ACCESS KEY ID = '${t!.AccessKeyId}', SECRET ACCESS KEY = SECRET temp_secret, SESSION TOKEN = SECRET temp_token)`);
      await c.query('VALIDATE CONNECTION temp_conn');
      await env.setClockSkew(3600 * 1000);
      try {
        const err = await errorOf(c.query('VALIDATE CONNECTION temp_conn'));
        expect(err.message).toContain('ExpiredToken');
        expect(err.hint).toContain('SESSION TOKEN has expired');
      } finally {
        await env.setClockSkew(0);
      }
    });
  });

  describe('assume role', () => {
    it('succeeds with the exact trust policy iamlink renders, and the emulator saw exactly the expected calls', async ({ skip }) => {
      requireEnforcement(skip);
      const { name, roleArn } = await roleConnection((ext) => trustingJump(env.jumpRoleArn, { StringEquals: { 'sts:ExternalId': ext } }));
      const before = (await env.requests()).length;
      const ok = await c.query(`VALIDATE CONNECTION ${name}`);
      expect(ok.command).toBe('VALIDATE');
      if (!env.emulated) return;
      const id = await idOf(name);
      const ext = await externalIdOf(name);
      const calls = (await env.requests()).slice(before);
      const toCustomer = calls.filter((r) => r.action === 'AssumeRole' && r.params.RoleArn === roleArn);
      const sent = toCustomer.map((r) => r.params.ExternalId);
      expect(sent).toHaveLength(3);
      expect(sent).toContain(ext);
      expect(sent).toContain(undefined);
      expect(sent.some((x) => x?.startsWith(`${ext}-never-issued-`))).toBe(true);
      for (const r of toCustomer) {
        expect(r.params.RoleSessionName).toBe(`test-env-${id}`);
        expect(Number(r.params.DurationSeconds)).toBeLessThanOrEqual(3600);
      }
      expect(toCustomer.filter((r) => r.status === 200).map((r) => r.params.ExternalId)).toEqual([ext]);
      expect(calls.filter((r) => r.action === 'GetCallerIdentity' && r.status === 200)).toHaveLength(1);
      const jumpCalls = (await env.requests()).filter((r) => r.action === 'AssumeRole' && r.params.RoleArn === env.jumpRoleArn);
      expect(jumpCalls.length).toBeGreaterThanOrEqual(1);
      expect(jumpCalls[0]!.params.RoleSessionName).toBe('test-env-jump');
      expect(jumpCalls[0]!.params.ExternalId).toBeUndefined();
      expect(Number(jumpCalls[0]!.params.DurationSeconds)).toBeLessThanOrEqual(3600);
      // Jump credentials are cached: a second validation does not assume the jump role again.
      await c.query(`VALIDATE CONNECTION ${name}`);
      expect((await env.requests()).filter((r) => r.action === 'AssumeRole' && r.params.RoleArn === env.jumpRoleArn)).toHaveLength(jumpCalls.length);
    });

    it('a policy without an external-id condition fails with the exact message, DETAIL and HINT', async ({ skip }) => {
      requireEnforcement(skip);
      const { name, roleArn } = await roleConnection(() => trustingJump(env.jumpRoleArn));
      const err = await errorOf(c.query(`VALIDATE CONNECTION ${name}`));
      expect(err.code).toBe('58000');
      expect(err.message).toBe('role trust policy does not require an external ID');
      expect(err.detail).toBe(
        `The trust policy for the connection's role (${roleArn}) is insecure and allows any principal that can assume ${env.jumpRoleArn} to assume the role.`,
      );
      const ext = await externalIdOf(name);
      expect(err.hint).toContain(`"sts:ExternalId": "${ext}"`);
      expect(err.hint).toContain(`"AWS": "${env.jumpRoleArn}"`);
    });

    it('StringLike "*" on the external id fails as not checking the external ID', async ({ skip }) => {
      requireEnforcement(skip);
      const { name } = await roleConnection(() => trustingJump(env.jumpRoleArn, { StringLike: { 'sts:ExternalId': '*' } }));
      const err = await errorOf(c.query(`VALIDATE CONNECTION ${name}`));
      expect(err.code).toBe('58000');
      expect(err.message).toBe('role trust policy does not check the external ID');
    });

    it('a missing customer role fails with AccessDenied on the customer hop', async () => {
      const { name, roleArn } = await roleConnection(() => undefined);
      const err = await errorOf(c.query(`VALIDATE CONNECTION ${name}`));
      expect(err.code).toBe('58000');
      expect(err.message).toBe(`could not assume role ${roleArn}: AccessDenied`);
      expect(err.detail).toContain(`jump role (${env.jumpRoleArn}) → customer role (${roleArn})`);
      expect(err.detail).toContain('AccessDenied');
    });

    it('a role that does not trust the jump role fails with AccessDenied and the policy to install in the HINT', async ({ skip }) => {
      requireEnforcement(skip);
      const { name } = await roleConnection((ext) => ({
        Version: '2012-10-17',
        Statement: [{ Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${CUSTOMER}:root` }, Action: 'sts:AssumeRole', Condition: { StringEquals: { 'sts:ExternalId': ext } } }],
      }));
      const err = await errorOf(c.query(`VALIDATE CONNECTION ${name}`));
      expect(err.message).toMatch(/AccessDenied$/);
      expect(err.hint).toContain(`"sts:ExternalId": "${await externalIdOf(name)}"`);
    });

    it('a jump role the server cannot assume is reported as an operator problem', async () => {
      const broken = await start([], `arn:aws:iam::111111111111:role/${unique('no-such-jump')}`);
      try {
        const bc = await broken.client();
        await bc.query(`CREATE CONNECTION j TO AWS (ASSUME ROLE ARN = 'arn:aws:iam::${CUSTOMER}:role/whatever')`);
        const err = await errorOf(bc.query('VALIDATE CONNECTION j'));
        expect(err.code).toBe('58000');
        expect(err.message).toBe('iamlink could not assume its AWS connection role: AccessDenied');
        expect(err.detail).toContain('ambient identity → jump role');
        expect(err.hint).toContain("iamlink server's configuration, not with this connection");
      } finally {
        await broken.stop();
      }
    });
  });

  it('the CLI server finds STS through AWS_ENDPOINT_URL and its identity through the default credential chain', async () => {
    const dataDir = await freshDataDir();
    const child = await startChild(['--data-dir', dataDir, '--listen', '127.0.0.1:0', '--log-level', 'warn', '--aws-connection-role-arn', env.jumpRoleArn], {
      AWS_ENDPOINT_URL: env.endpoint,
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: env.ambient.accessKeyId,
      AWS_SECRET_ACCESS_KEY: env.ambient.secretAccessKey,
    });
    const cc = new pg.Client({ connectionString: child.url });
    try {
      await cc.connect();
      await cc.query(`CREATE CONNECTION cli_conn TO AWS (ASSUME ROLE ARN = 'arn:aws:iam::${CUSTOMER}:role/placeholder')`);
      const ext = (await cc.query("SELECT external_id FROM mz_internal.mz_aws_connections")).rows[0].external_id as string;
      const roleArn = await env.customerRole(trustingJump(env.jumpRoleArn, { StringEquals: { 'sts:ExternalId': ext } }));
      await cc.query(`ALTER CONNECTION cli_conn SET (ASSUME ROLE ARN = '${roleArn}') WITH (VALIDATE = true)`);
      expect((await cc.query('VALIDATE CONNECTION cli_conn')).command).toBe('VALIDATE');
    } finally {
      await cc.end().catch(() => undefined);
      child.process.kill('SIGTERM');
      await child.exited;
      await rm(join(dataDir, '..'), { recursive: true, force: true });
    }
  });

  describe("AWS's error text", () => {
    it('an STS that quotes the Authorization header and session token back leaks neither to the client nor to the log', async ({ skip }) => {
      requireEmulator(env, 'an STS echoing credentials', skip);
      // Temporary credentials, so that the request carries a session token to echo.
      const role = await env.customerRole({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${CUSTOMER}:root` }, Action: 'sts:AssumeRole' }] });
      const sts = new STSClient({ endpoint: env.endpoint, region: 'us-east-1', credentials: { accessKeyId: CUSTOMER, secretAccessKey: 'test' } });
      const { Credentials: t } = await sts.send(new AssumeRoleCommand({ RoleArn: role, RoleSessionName: 'echo', DurationSeconds: 900 }));
      await c.query(`CREATE SECRET echo_secret AS '${t!.SecretAccessKey}'`);
      await c.query(`CREATE SECRET echo_token AS '${t!.SessionToken}'`);
      await c.query(`CREATE CONNECTION echo_keys TO AWS (ACCESS KEY ID = '${t!.AccessKeyId}', SECRET ACCESS KEY = SECRET echo_secret, SESSION TOKEN = SECRET echo_token)`);
      const before = (await env.requests()).length;
      await env.setFaults({ echoAuthorizationNext: 1 });
      let err;
      try {
        err = await errorOf(c.query('VALIDATE CONNECTION echo_keys'));
      } finally {
        await env.setFaults({});
      }
      // The emulator did quote them (so this test cannot pass vacuously)...
      const echoed = (await env.requests()).slice(before).find((r) => r.code === 'IncompleteSignature');
      const quoted = quotedCredentials(echoed?.message ?? '');
      expect(quoted).toEqual([t!.AccessKeyId, expect.stringMatching(/^[0-9a-f]{64}$/), t!.SessionToken]);
      // ...and the client got AWS's error, with its text but without them.
      expect(err.code).toBe('58000');
      expect(err.message).toContain('IncompleteSignature');
      expect(err.detail).toContain("Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.");
      expect(err.detail).toContain('<redacted>');
      const log = await server.logText();
      for (const secret of [...quoted, t!.SecretAccessKey!]) {
        expect(visible(err)).not.toContain(secret);
        expect(log).not.toContain(secret);
      }
    });

    it("the jump role's session credentials, quoted back on the customer hop, do not leak either", async ({ skip }) => {
      requireEmulator(env, 'an STS echoing credentials', skip);
      requireEnforcement(skip);
      const { name } = await roleConnection((ext) => trustingJump(env.jumpRoleArn, { StringEquals: { 'sts:ExternalId': ext } }));
      // A first validation caches the jump credentials: the echoed requests are the customer hop's, signed with them.
      await c.query(`VALIDATE CONNECTION ${name}`);
      const before = (await env.requests()).length;
      await env.setFaults({ echoAuthorizationNext: 3 });
      let err;
      try {
        err = await errorOf(c.query(`VALIDATE CONNECTION ${name}`));
      } finally {
        await env.setFaults({});
      }
      const echoed = (await env.requests()).slice(before).filter((r) => r.code === 'IncompleteSignature');
      expect(echoed.length).toBeGreaterThan(0);
      const quoted = echoed.flatMap((r) => quotedCredentials(r.message ?? ''));
      expect(quoted.some((q) => q.startsWith('ASIA'))).toBe(true);
      expect(err.code).toBe('58000');
      expect(err.message).toMatch(/IncompleteSignature$/);
      expect(err.detail).toContain('jump role');
      expect(err.detail).toContain('<redacted>');
      const log = await server.logText();
      for (const secret of quoted) {
        expect(visible(err)).not.toContain(secret);
        expect(log).not.toContain(secret);
      }
    });
  });

  describe('STS unreachable', () => {
    let quick: TestServer;
    let qc: pg.Client;
    let closed: string;
    beforeAll(async () => {
      closed = `http://127.0.0.1:${await closedPort()}`;
      quick = await start(['--aws-sts-timeout', '2s']);
      qc = await quick.client();
    });
    afterAll(async () => quick?.stop());

    /** VALIDATE, expecting the transient hint for an unreachable STS, within a few seconds. */
    async function expectUnreachable(client: pg.Client, name: string, hop: string): Promise<void> {
      const started = Date.now();
      const err = await errorOf(client.query(`VALIDATE CONNECTION ${name}`));
      expect(Date.now() - started).toBeLessThan(3000);
      expect(err.code).toBe('58000');
      expect(err.message).toMatch(/NetworkError$/);
      expect(err.detail).toContain(hop);
      expect(err.detail).toContain('ECONNREFUSED');
      expect(err.hint).toContain(UNREACHABLE);
      expect(err.hint).toContain(TRANSIENT_HINT);
      expect(err.hint).not.toContain(POLICIES_HINT);
    }

    it('static keys: the transient hint, not the options-and-policies one', async () => {
      const user = await env.createUserWithKey(CUSTOMER);
      await qc.query(`CREATE SECRET net_secret AS '${user.secretAccessKey}'`);
      await qc.query(`CREATE CONNECTION net_keys TO AWS (ACCESS KEY ID = '${user.accessKeyId}', SECRET ACCESS KEY = SECRET net_secret, ENDPOINT = '${closed}')`);
      await expectUnreachable(qc, 'net_keys', "connection's access key → STS");
      const err = await errorOf(qc.query('VALIDATE CONNECTION net_keys'));
      expect(err.message).not.toContain('AWS rejected');
      expect(err.hint).toContain("the connection's ENDPOINT and REGION");
    });

    it("assume role: calls signed with the jump role's credentials never go to the connection's ENDPOINT", async () => {
      // A user's ENDPOINT would otherwise receive AssumeRole requests signed with the platform's
      // jump-role session (its key id and session token, replayable for minutes).
      const seen: string[] = [];
      const trap = createServer((socket) => {
        seen.push('connection');
        socket.destroy();
      });
      await new Promise<void>((resolve) => trap.listen(0, '127.0.0.1', () => resolve()));
      try {
        const port = (trap.address() as AddressInfo).port;
        await qc.query(`CREATE CONNECTION net_role TO AWS (ASSUME ROLE ARN = 'arn:aws:iam::${CUSTOMER}:role/whatever', ENDPOINT = 'http://127.0.0.1:${port}')`);
        const err = await errorOf(qc.query('VALIDATE CONNECTION net_role'));
        expect(err.code).toBe('58000');
        expect(err.message).toContain('AccessDenied'); // answered by the server's own STS
        expect(seen).toEqual([]);
        expect(`${err.hint}`).not.toContain("connection's ENDPOINT");
      } finally {
        trap.close();
      }
    });

    it("assume role, jump hop at the server's STS endpoint: the transient hint", async () => {
      const isolated = await start(['--aws-sts-timeout', '2s'], env.jumpRoleArn, closed);
      try {
        const ic = await isolated.client();
        await ic.query(`CREATE CONNECTION net_jump TO AWS (ASSUME ROLE ARN = 'arn:aws:iam::${CUSTOMER}:role/whatever')`);
        await expectUnreachable(ic, 'net_jump', 'ambient identity → jump role');
        const err = await errorOf(ic.query('VALIDATE CONNECTION net_jump'));
        expect(err.hint).toContain('the STS endpoint and region the iamlink server uses');
      } finally {
        await isolated.stop();
      }
    });
  });

  describe('WITH (VALIDATE = true)', () => {
    it('creates nothing when validation fails, and creates the connection when it succeeds', async () => {
      const user = await env.createUserWithKey(CUSTOMER);
      await c.query(`CREATE SECRET wv_secret AS 'wrong'`);
      const before = await catalogSnapshot(c);
      const err = await errorOf(
        c.query(`CREATE CONNECTION wv TO AWS (ACCESS KEY ID = '${user.accessKeyId}', SECRET ACCESS KEY = SECRET wv_secret) WITH (VALIDATE = true)`),
      );
      expect(err.code).toBe('58000');
      expect(await catalogSnapshot(c)).toEqual(before);
      await c.query(`ALTER SECRET wv_secret AS '${user.secretAccessKey}'`);
      await c.query(`CREATE CONNECTION wv TO AWS (ACCESS KEY ID = '${user.accessKeyId}', SECRET ACCESS KEY = SECRET wv_secret) WITH (VALIDATE = true)`);
      expect((await c.query("SELECT name FROM mz_connections WHERE name = 'wv'")).rows).toHaveLength(1);
      // ALTER ... WITH (VALIDATE = true) that would break it changes nothing.
      const unchanged = await catalogSnapshot(c);
      const alter = await errorOf(c.query(`ALTER CONNECTION wv SET (ACCESS KEY ID = 'AKIAUNKNOWNKEY000000') WITH (VALIDATE = true)`));
      expect(alter.message).toContain('InvalidClientTokenId');
      expect(await catalogSnapshot(c)).toEqual(unchanged);
    });

    it('an assume-role CREATE that fails never offers a trust policy for the external id it will not have', async ({ skip }) => {
      requireEnforcement(skip);
      // A role that trusts the jump role but requires some other external id: AccessDenied.
      const roleArn = await env.customerRole({
        Version: '2012-10-17',
        Statement: [{ Effect: 'Allow', Principal: { AWS: env.jumpRoleArn }, Action: 'sts:AssumeRole', Condition: { StringEquals: { 'sts:ExternalId': 'someone-else' } } }],
      });
      const before = await catalogSnapshot(c);
      for (const sql of [
        `CREATE CONNECTION trap TO AWS (ASSUME ROLE ARN = '${roleArn}') WITH (VALIDATE = true)`,
        `BEGIN; CREATE CONNECTION trap TO AWS (ASSUME ROLE ARN = '${roleArn}') WITH (VALIDATE = true)`,
      ]) {
        const err = await errorOf(c.query(sql));
        await c.query('ROLLBACK').catch(() => undefined);
        expect(err.code).toBe('58000');
        expect(err.message).toMatch(/AccessDenied$/);
        // Neither the discarded external id nor a policy for it; how to proceed instead.
        expect(`${err.detail} ${err.hint}`).not.toMatch(/mz_[A-Za-z0-9-]+_u\d+/);
        expect(err.hint).not.toContain('sts:ExternalId');
        expect(err.hint).toContain('The connection was not created');
        expect(err.hint).toContain('VALIDATE CONNECTION trap');
      }
      expect(await catalogSnapshot(c)).toEqual(before);
      // The path the hint describes works: create, read the policy, (install it,) validate.
      await c.query(`CREATE CONNECTION trap TO AWS (ASSUME ROLE ARN = '${roleArn}')`);
      const policy = (await c.query("SELECT example_trust_policy FROM mz_internal.mz_aws_connections JOIN mz_connections USING (id) WHERE name = 'trap'")).rows[0].example_trust_policy;
      expect(JSON.stringify(policy)).toContain(await externalIdOf('trap'));
      const err = await errorOf(c.query('VALIDATE CONNECTION trap'));
      expect(err.hint).toContain(`"sts:ExternalId": "${await externalIdOf('trap')}"`); // an existing connection: its policy is shown
    });
  });

  describe('speed and resilience', () => {
    it('an STS that never answers fails within the timeout plus one second', async ({ skip }) => {
      requireEmulator(env, 'a hanging STS', skip);
      const quick = await start(['--aws-sts-timeout', '1s']);
      try {
        const qc = await quick.client();
        const user = await env.createUserWithKey(CUSTOMER);
        await qc.query(`CREATE SECRET hang_secret AS '${user.secretAccessKey}'`);
        await qc.query(`CREATE CONNECTION hang TO AWS (ACCESS KEY ID = '${user.accessKeyId}', SECRET ACCESS KEY = SECRET hang_secret)`);
        await env.setFaults({ hangNext: 10 });
        const started = Date.now();
        const err = await errorOf(qc.query('VALIDATE CONNECTION hang'));
        const elapsed = Date.now() - started;
        expect(err.message).toContain('Timeout');
        expect(elapsed).toBeLessThan(2000);
      } finally {
        await env.setFaults({});
        await quick.stop();
      }
    });

    it('a CancelRequest stops a VALIDATE waiting on STS with 57014', async ({ skip }) => {
      requireEmulator(env, 'added latency', skip);
      const user = await env.createUserWithKey(CUSTOMER);
      await c.query(`CREATE SECRET cancel_secret AS '${user.secretAccessKey}'`);
      await c.query(`CREATE CONNECTION cancel_me TO AWS (ACCESS KEY ID = '${user.accessKeyId}', SECRET ACCESS KEY = SECRET cancel_secret)`);
      const victim = await server.client();
      const { processID, secretKey } = victim as unknown as { processID: number; secretKey: number };
      await env.setFaults({ latencyMs: 3000 });
      try {
        const started = Date.now();
        const pending = errorOf(victim.query('VALIDATE CONNECTION cancel_me'));
        await new Promise((r) => setTimeout(r, 300));
        const cancel = await rawConnect(server.port);
        const packet = Buffer.alloc(16);
        packet.writeInt32BE(16, 0);
        packet.writeInt32BE(80877102, 4);
        packet.writeInt32BE(processID, 8);
        packet.writeInt32BE(secretKey, 12);
        cancel.send(packet);
        const err = await pending;
        expect(err).toMatchObject({ code: '57014', message: 'canceling statement due to user request' });
        expect(Date.now() - started).toBeLessThan(2000);
        expect((await victim.query('SELECT 1 AS alive')).rows).toEqual([{ alive: 1 }]);
      } finally {
        await env.setFaults({});
      }
    });

    it('retries throttling: throttled twice, then OK, validates', async ({ skip }) => {
      requireEmulator(env, 'throttling', skip);
      const user = await env.createUserWithKey(CUSTOMER);
      await c.query(`CREATE SECRET thr_secret AS '${user.secretAccessKey}'`);
      await c.query(`CREATE CONNECTION thr TO AWS (ACCESS KEY ID = '${user.accessKeyId}', SECRET ACCESS KEY = SECRET thr_secret)`);
      await env.setFaults({ throttleNext: 2 });
      const before = (await env.requests()).length;
      await c.query('VALIDATE CONNECTION thr');
      // Only this connection's requests: an earlier test's slow request may be answered meanwhile.
      const mine = (await env.requests()).slice(before).filter((r) => r.accessKeyId === undefined || r.accessKeyId === user.accessKeyId);
      expect(mine.map((r) => r.code ?? r.status)).toEqual(['Throttling', 'Throttling', 200]);
    });

    it('50 concurrent VALIDATEs complete while another session answers SELECT 1 within 50 ms', async ({ skip }) => {
      requireEmulator(env, 'added latency', skip);
      requireEnforcement(skip);
      const { name } = await roleConnection((ext) => trustingJump(env.jumpRoleArn, { StringEquals: { 'sts:ExternalId': ext } }));
      const clients = await Promise.all(Array.from({ length: 10 }, () => server.client()));
      const other = await server.client();
      await env.setFaults({ latencyMs: 100 });
      try {
        let done = 0;
        const validations = Promise.all(
          Array.from({ length: 50 }, (_, i) => clients[i % clients.length]!.query(`VALIDATE CONNECTION ${name}`).then(() => done++)),
        );
        const latencies: number[] = [];
        await new Promise((r) => setTimeout(r, 50));
        while (done < 50) {
          const t = performance.now();
          await other.query('SELECT 1');
          latencies.push(performance.now() - t);
          await new Promise((r) => setTimeout(r, 20));
        }
        await validations;
        expect(done).toBe(50);
        expect(latencies.length).toBeGreaterThan(3);
        expect(Math.max(...latencies)).toBeLessThan(50);
      } finally {
        await env.setFaults({});
      }
    });
  });
});
