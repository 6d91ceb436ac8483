/**
 * The emulator against real AWS clients other than the JavaScript SDK: the `aws` CLI and boto3
 * (botocore signs a different set of headers than the JS SDK: no x-amz-content-sha256). CI
 * (.ci/run) installs the Debian packages awscli and python3-boto3; a test whose client is
 * absent is skipped with a printed reason. Every `aws` found (the one on PATH and Debian's
 * /usr/bin/aws, when they differ) is tested.
 */
import { CreateAccessKeyCommand, CreateRoleCommand, CreateUserCommand, IAMClient } from '@aws-sdk/client-iam';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import { execFile, spawnSync } from 'node:child_process';
import { createHash, createHmac, type Hash, type Hmac } from 'node:crypto';
import { accessSync, constants, realpathSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StsEmulator } from './emulator.js';

const ACCOUNT = '111111111111';
const PYTHON = '/usr/bin/python3';
const BOTO3_SCRIPT = fileURLToPath(new URL('./boto3_sts.py', import.meta.url));
const EXTERNAL_ID = 'ext-real-clients';

const executable = (path: string): boolean => {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
};

/** The `aws` on PATH, and /usr/bin/aws (Debian's awscli) if it is another one; each must answer --version. */
function awsClis(): string[] {
  const found = (process.env.PATH ?? '').split(delimiter).filter(Boolean).map((dir) => join(dir, 'aws')).find(executable);
  const seen = new Set<string>();
  const clis: string[] = [];
  for (const path of [found, '/usr/bin/aws']) {
    if (!path || !executable(path) || seen.has(realpathSync(path))) continue;
    seen.add(realpathSync(path));
    if (spawnSync(path, ['--version'], { env: cleanEnv(), encoding: 'utf8' }).status === 0) clis.push(path);
  }
  return clis;
}

/** This process's environment without any AWS_* variable, plus those given. */
function cleanEnv(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('AWS_')));
  return { ...env, AWS_CONFIG_FILE: '/dev/null', AWS_SHARED_CREDENTIALS_FILE: '/dev/null', AWS_EC2_METADATA_DISABLED: 'true', AWS_PAGER: '', ...extra };
}

interface Keys {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string;
}

interface Outcome {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

function run(file: string, args: string[], env: NodeJS.ProcessEnv, input?: string): Promise<Outcome> {
  return new Promise((resolve) => {
    const child = execFile(file, args, { env, timeout: 30_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : null) : 0, stdout, stderr });
    });
    if (input !== undefined) child.stdin!.end(input);
  });
}

const AWS_CLIS = awsClis();
const HAS_BOTO3 = spawnSync(PYTHON, ['-c', 'import boto3'], { env: cleanEnv() }).status === 0;
if (AWS_CLIS.length === 0) console.log('real-clients: skipping the AWS CLI tests: no `aws` on PATH nor /usr/bin/aws (Debian package awscli)');
if (!HAS_BOTO3) console.log(`real-clients: skipping the boto3 tests: ${PYTHON} cannot import boto3 (Debian package python3-boto3)`);

/** SHA-256 (HMAC with a secret) on node:crypto, in the shape @smithy/signature-v4 expects. */
class NodeSha256 {
  private readonly hash: Hash | Hmac;
  constructor(secret?: string | ArrayBuffer | ArrayBufferView) {
    this.hash = secret === undefined ? createHash('sha256') : createHmac('sha256', bytes(secret));
  }
  update(data: string | ArrayBuffer | ArrayBufferView): void {
    this.hash.update(bytes(data));
  }
  async digest(): Promise<Uint8Array> {
    return this.hash.digest();
  }
  reset(): void {
    throw new Error('not supported');
  }
}
const bytes = (d: string | ArrayBuffer | ArrayBufferView): string | Uint8Array =>
  typeof d === 'string' ? d : d instanceof ArrayBuffer ? new Uint8Array(d) : new Uint8Array(d.buffer, d.byteOffset, d.byteLength);

describe('the STS emulator with the AWS CLI and boto3', () => {
  const emulator = new StsEmulator();
  let endpoint: string;
  let user: Keys & { arn: string };
  const roleArn = `arn:aws:iam::${ACCOUNT}:role/real-clients`;
  const sessionArn = (session: string): string => `arn:aws:sts::${ACCOUNT}:assumed-role/real-clients/${session}`;

  beforeAll(async () => {
    endpoint = await emulator.start();
    const iam = new IAMClient({ endpoint, region: 'us-east-1', credentials: { accessKeyId: ACCOUNT, secretAccessKey: 'test' } });
    const { User } = await iam.send(new CreateUserCommand({ UserName: 'cli-user' }));
    const { AccessKey } = await iam.send(new CreateAccessKeyCommand({ UserName: 'cli-user' }));
    user = { arn: User!.Arn!, accessKeyId: AccessKey!.AccessKeyId!, secretAccessKey: AccessKey!.SecretAccessKey! };
    await iam.send(
      new CreateRoleCommand({
        RoleName: 'real-clients',
        AssumeRolePolicyDocument: JSON.stringify({
          Version: '2012-10-17',
          Statement: [{ Effect: 'Allow', Principal: { AWS: user.arn }, Action: 'sts:AssumeRole', Condition: { StringEquals: { 'sts:ExternalId': EXTERNAL_ID } } }],
        }),
      }),
    );
  });
  afterAll(async () => emulator.stop());

  describe.each(AWS_CLIS.length ? AWS_CLIS : ['aws'])('the AWS CLI (%s)', (cli) => {
    const aws = (keys: Keys, ...args: string[]): Promise<Outcome> =>
      run(
        cli,
        ['sts', ...args, '--endpoint-url', endpoint, '--region', 'us-east-1', '--output', 'json'],
        cleanEnv({ AWS_ACCESS_KEY_ID: keys.accessKeyId, AWS_SECRET_ACCESS_KEY: keys.secretAccessKey, AWS_SESSION_TOKEN: keys.sessionToken }),
      );
    const ok = (o: Outcome): unknown => {
      expect(o.stderr).toBe('');
      expect(o.code).toBe(0);
      return JSON.parse(o.stdout);
    };

    it.skipIf(AWS_CLIS.length === 0)('get-caller-identity answers the user; assume-role, then get-caller-identity with the session, answers the assumed role', async () => {
      expect(ok(await aws(user, 'get-caller-identity'))).toMatchObject({ Arn: user.arn, Account: ACCOUNT });
      const assumed = ok(await aws(user, 'assume-role', '--role-arn', roleArn, '--role-session-name', 'cli', '--external-id', EXTERNAL_ID)) as {
        Credentials: { AccessKeyId: string; SecretAccessKey: string; SessionToken: string };
        AssumedRoleUser: { Arn: string };
      };
      expect(assumed.AssumedRoleUser.Arn).toBe(sessionArn('cli'));
      const c = assumed.Credentials;
      const session = { accessKeyId: c.AccessKeyId, secretAccessKey: c.SecretAccessKey, sessionToken: c.SessionToken };
      expect(ok(await aws(session, 'get-caller-identity'))).toMatchObject({ Arn: sessionArn('cli'), Account: ACCOUNT });
      // The session's keys without its token are refused.
      const noToken = await aws({ ...session, sessionToken: undefined }, 'get-caller-identity');
      expect(noToken.code).not.toBe(0);
      expect(noToken.stderr).toContain('(InvalidClientTokenId)');
    });

    it.skipIf(AWS_CLIS.length === 0)('a wrong secret key: SignatureDoesNotMatch; a refused assume-role: AccessDenied', async () => {
      const wrong = await aws({ ...user, secretAccessKey: 'not-the-secret' }, 'get-caller-identity');
      expect(wrong.code).not.toBe(0);
      expect(wrong.stderr).toContain('(SignatureDoesNotMatch)');
      const denied = await aws(user, 'assume-role', '--role-arn', roleArn, '--role-session-name', 'cli', '--external-id', 'wrong');
      expect(denied.code).not.toBe(0);
      expect(denied.stderr).toContain('(AccessDenied)');
    });
  });

  describe('boto3', () => {
    const boto3 = async (keys: Keys, operation: string, params: object = {}): Promise<{ result?: Record<string, unknown>; error?: { code: string; message: string }; clientError?: boolean; exception?: string }> => {
      const o = await run(PYTHON, [BOTO3_SCRIPT], cleanEnv(), JSON.stringify({ endpoint, ...keys, operation, params }));
      expect(o.stderr).toBe('');
      expect(o.code).toBe(0);
      return JSON.parse(o.stdout);
    };

    it.skipIf(!HAS_BOTO3)('get_caller_identity answers the user; assume_role, then get_caller_identity with the session, answers the assumed role', async () => {
      expect((await boto3(user, 'get_caller_identity')).result).toMatchObject({ Arn: user.arn, Account: ACCOUNT });
      const assumed = await boto3(user, 'assume_role', { RoleArn: roleArn, RoleSessionName: 'py', ExternalId: EXTERNAL_ID });
      const c = assumed.result!.Credentials as { AccessKeyId: string; SecretAccessKey: string; SessionToken: string };
      expect(assumed.result!.AssumedRoleUser).toMatchObject({ Arn: sessionArn('py') });
      const session = { accessKeyId: c.AccessKeyId, secretAccessKey: c.SecretAccessKey, sessionToken: c.SessionToken };
      expect((await boto3(session, 'get_caller_identity')).result).toMatchObject({ Arn: sessionArn('py'), Account: ACCOUNT });
      // A forged token with the session's keys is refused.
      expect((await boto3({ ...session, sessionToken: 'forged' }, 'get_caller_identity')).error?.code).toBe('InvalidClientTokenId');
    });

    it.skipIf(!HAS_BOTO3)('a trust policy that refuses (wrong external id): ClientError AccessDenied; a wrong secret key: SignatureDoesNotMatch', async () => {
      const denied = await boto3(user, 'assume_role', { RoleArn: roleArn, RoleSessionName: 'py', ExternalId: 'wrong' });
      expect(denied).toMatchObject({ clientError: true, error: { code: 'AccessDenied' } });
      expect(denied.error!.message).toContain(`User: ${user.arn} is not authorized to perform: sts:AssumeRole on resource: ${roleArn}`);
      expect(await boto3({ ...user, secretAccessKey: 'not-the-secret' }, 'get_caller_identity')).toMatchObject({ clientError: true, error: { code: 'SignatureDoesNotMatch' } });
    });
  });

  describe('bodies (signed with @smithy/signature-v4, sent with fetch)', () => {
    const BODY = 'Action=GetCallerIdentity&Version=2011-06-15';
    /** Sign BODY (optionally also signing x-amz-content-sha256), then send `sent` as the body. */
    const send = async (sent: string, signContentSha256: boolean): Promise<{ status: number; text: string }> => {
      const url = new URL(endpoint);
      const signer = new SignatureV4({ credentials: { accessKeyId: user.accessKeyId, secretAccessKey: user.secretAccessKey }, region: 'us-east-1', service: 'sts', sha256: NodeSha256, applyChecksum: signContentSha256 });
      const signed = await signer.sign(
        new HttpRequest({ method: 'POST', protocol: 'http:', hostname: url.hostname, port: Number(url.port), path: '/', headers: { host: url.host, 'content-type': 'application/x-www-form-urlencoded' }, body: BODY }),
      );
      const res = await fetch(endpoint, { method: 'POST', headers: signed.headers, body: sent });
      return { status: res.status, text: await res.text() };
    };

    it('the signed body passes, with or without x-amz-content-sha256 signed', async () => {
      for (const withHash of [false, true]) {
        const r = await send(BODY, withHash);
        expect(r.status).toBe(200);
        expect(r.text).toContain(`<Arn>${user.arn}</Arn>`);
      }
    });

    it('another body than the one signed is rejected: SignatureDoesNotMatch, or XAmzContentSHA256Mismatch when the signed hash names the old body', async () => {
      const tampered = 'Action=AssumeRole&Version=2011-06-15';
      const plain = await send(tampered, false);
      expect(plain.status).toBe(403);
      expect(plain.text).toContain('<Code>SignatureDoesNotMatch</Code>');
      const hashed = await send(tampered, true);
      expect(hashed.status).toBe(400);
      expect(hashed.text).toContain('<Code>XAmzContentSHA256Mismatch</Code>');
      expect(emulator.requests.slice(-2).map((r) => r.code)).toEqual(['SignatureDoesNotMatch', 'XAmzContentSHA256Mismatch']);
    });

    it('a header listed in SignedHeaders but absent, a malformed Authorization header and a presigned URL are refused with clear errors', async () => {
      const url = new URL(endpoint);
      const signer = new SignatureV4({ credentials: { accessKeyId: user.accessKeyId, secretAccessKey: user.secretAccessKey }, region: 'us-east-1', service: 'sts', sha256: NodeSha256, applyChecksum: false });
      const signed = await signer.sign(
        new HttpRequest({ method: 'POST', protocol: 'http:', hostname: url.hostname, port: Number(url.port), path: '/', headers: { host: url.host, 'content-type': 'application/x-www-form-urlencoded', 'x-extra': 'yes' }, body: BODY }),
      );
      const { 'x-extra': _dropped, ...headers } = signed.headers;
      const missing = await fetch(endpoint, { method: 'POST', headers, body: BODY });
      expect(missing.status).toBe(403);
      expect(await missing.text()).toContain('SignedHeaders lists x-extra, which the request does not carry');
      const malformed = await fetch(endpoint, { method: 'POST', headers: { ...signed.headers, authorization: 'AWS4-HMAC-SHA256 Credential=oops' }, body: BODY });
      expect(malformed.status).toBe(400);
      expect(await malformed.text()).toContain('<Code>IncompleteSignature</Code>');
      const presigned = await fetch(`${endpoint}/?Action=GetCallerIdentity&Version=2011-06-15&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature=${'0'.repeat(64)}`);
      expect(presigned.status).toBe(400);
      expect(await presigned.text()).toContain('does not accept query-string authentication');
    });
  });
});
