import { CreateAccessKeyCommand, CreateRoleCommand, CreateUserCommand, DeleteRoleCommand, IAMClient, UpdateAssumeRolePolicyCommand } from '@aws-sdk/client-iam';
import { AssumeRoleCommand, GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StsEmulator } from './emulator.js';

const ACCOUNT = '111111111111';

describe('the STS emulator on the real wire protocol', () => {
  const emulator = new StsEmulator();
  let endpoint: string;
  const sts = (accessKeyId: string, secretAccessKey: string, sessionToken?: string): STSClient =>
    new STSClient({ endpoint, region: 'us-east-1', credentials: { accessKeyId, secretAccessKey, sessionToken }, maxAttempts: 1 });
  let iam: IAMClient;
  beforeAll(async () => {
    endpoint = await emulator.start();
    iam = new IAMClient({ endpoint, region: 'us-east-1', credentials: { accessKeyId: ACCOUNT, secretAccessKey: 'test' } });
  });
  afterAll(async () => emulator.stop());

  it('verifies signatures: right key passes, wrong secret and unknown key fail with the AWS codes', async () => {
    await iam.send(new CreateUserCommand({ UserName: 'alice' }));
    const { AccessKey } = await iam.send(new CreateAccessKeyCommand({ UserName: 'alice' }));
    const me = await sts(AccessKey!.AccessKeyId!, AccessKey!.SecretAccessKey!).send(new GetCallerIdentityCommand({}));
    expect(me).toMatchObject({ Arn: `arn:aws:iam::${ACCOUNT}:user/alice`, Account: ACCOUNT });
    await expect(sts(AccessKey!.AccessKeyId!, 'wrong').send(new GetCallerIdentityCommand({}))).rejects.toMatchObject({ name: 'SignatureDoesNotMatch' });
    await expect(sts('AKIANOTAREALKEY00000', 'x').send(new GetCallerIdentityCommand({}))).rejects.toMatchObject({ name: 'InvalidClientTokenId' });
  });

  it('evaluates trust policies with external ids and caps chained sessions at one hour', async () => {
    await iam.send(
      new CreateRoleCommand({
        RoleName: 'target',
        AssumeRolePolicyDocument: JSON.stringify({
          Statement: [{ Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` }, Action: 'sts:AssumeRole', Condition: { StringEquals: { 'sts:ExternalId': 'ext-1' } } }],
        }),
      }),
    );
    const root = sts(ACCOUNT, 'test');
    const arn = `arn:aws:iam::${ACCOUNT}:role/target`;
    await expect(root.send(new AssumeRoleCommand({ RoleArn: arn, RoleSessionName: 's1' }))).rejects.toMatchObject({ name: 'AccessDenied' });
    await expect(root.send(new AssumeRoleCommand({ RoleArn: arn, RoleSessionName: 's1', ExternalId: 'nope' }))).rejects.toMatchObject({ name: 'AccessDenied' });
    const ok = await root.send(new AssumeRoleCommand({ RoleArn: arn, RoleSessionName: 's1', ExternalId: 'ext-1' }));
    const c = ok.Credentials!;
    const who = await sts(c.AccessKeyId!, c.SecretAccessKey!, c.SessionToken!).send(new GetCallerIdentityCommand({}));
    expect(who.Arn).toBe(`arn:aws:sts::${ACCOUNT}:assumed-role/target/s1`);
    // A session assuming a role again is chained: at most an hour.
    await iam.send(new UpdateAssumeRolePolicyCommand({ RoleName: 'target', PolicyDocument: JSON.stringify({ Statement: [{ Effect: 'Allow', Principal: { AWS: arn }, Action: 'sts:AssumeRole' }] }) }));
    const session = sts(c.AccessKeyId!, c.SecretAccessKey!, c.SessionToken!);
    await expect(session.send(new AssumeRoleCommand({ RoleArn: arn, RoleSessionName: 's2', DurationSeconds: 7200 }))).rejects.toMatchObject({ name: 'ValidationError' });
    await session.send(new AssumeRoleCommand({ RoleArn: arn, RoleSessionName: 's2', DurationSeconds: 3600 }));
    // A wrong session token is refused.
    await expect(sts(c.AccessKeyId!, c.SecretAccessKey!, 'forged').send(new GetCallerIdentityCommand({}))).rejects.toMatchObject({ name: 'InvalidClientTokenId' });
    // Expired credentials are refused as such.
    emulator.clockSkewMs = 2 * 3600 * 1000;
    await expect(session.send(new GetCallerIdentityCommand({}))).rejects.toMatchObject({ name: 'ExpiredToken' });
    emulator.clockSkewMs = 0;
    await iam.send(new DeleteRoleCommand({ RoleName: 'target' }));
    await expect(root.send(new AssumeRoleCommand({ RoleArn: arn, RoleSessionName: 's1', ExternalId: 'ext-1' }))).rejects.toMatchObject({ name: 'AccessDenied' });
  });

  it('checks the body against x-amz-content-sha256 itself', async () => {
    const res = await fetch(endpoint, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        'x-amz-content-sha256': '0'.repeat(64),
        'x-amz-date': '20260101T000000Z',
        authorization: `AWS4-HMAC-SHA256 Credential=${ACCOUNT}/20260101/us-east-1/sts/aws4_request, SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature=${'0'.repeat(64)}`,
      },
      body: 'Action=GetCallerIdentity&Version=2011-06-15',
    });
    expect(res.status).toBe(400);
    expect(await res.text()).toContain('<Code>XAmzContentSHA256Mismatch</Code>');
  });

  it('echo-authorization: STS calls answer IncompleteSignature quoting their Authorization header and session token; IAM calls are spared', async () => {
    await iam.send(new CreateRoleCommand({ RoleName: 'echoed', AssumeRolePolicyDocument: JSON.stringify({ Statement: [{ Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` }, Action: 'sts:AssumeRole' }] }) }));
    const { Credentials: c } = await sts(ACCOUNT, 'test').send(new AssumeRoleCommand({ RoleArn: `arn:aws:iam::${ACCOUNT}:role/echoed`, RoleSessionName: 'echo' }));
    emulator.faults = { echoAuthorizationNext: 1 };
    await iam.send(new DeleteRoleCommand({ RoleName: 'echoed' })); // IAM: not echoed
    const err = (await sts(c!.AccessKeyId!, c!.SecretAccessKey!, c!.SessionToken!).send(new GetCallerIdentityCommand({})).catch((e: unknown) => e)) as Error;
    expect(err.name).toBe('IncompleteSignature');
    expect(err.message).toMatch(new RegExp(`Authorization=AWS4-HMAC-SHA256 Credential=${c!.AccessKeyId}/\\d{8}/us-east-1/sts/aws4_request, SignedHeaders=\\S+, Signature=[0-9a-f]{64}`));
    expect(err.message).toContain(`X-Amz-Security-Token: ${c!.SessionToken}`);
    expect(emulator.requests.at(-1)).toMatchObject({ action: 'GetCallerIdentity', status: 400, code: 'IncompleteSignature', message: err.message });
    expect(emulator.faults.echoAuthorizationNext).toBe(0);
  });

  it('injects throttling and 5xx faults that the SDK retries', async () => {
    emulator.faults = { throttleNext: 1, failNext: 1 };
    const client = new STSClient({ endpoint, region: 'us-east-1', credentials: { accessKeyId: ACCOUNT, secretAccessKey: 'test' }, maxAttempts: 3 });
    const before = emulator.requests.length;
    expect((await client.send(new GetCallerIdentityCommand({}))).Account).toBe(ACCOUNT);
    expect(emulator.requests.slice(before).map((r) => r.code ?? r.status)).toEqual(['Throttling', 'ServiceUnavailable', 200]);
    emulator.faults = { dropNext: 1 };
    expect((await client.send(new GetCallerIdentityCommand({}))).Account).toBe(ACCOUNT);
    expect(emulator.requests.slice(-2).map((r) => r.code ?? r.status)).toEqual(['Dropped', 200]);
  });
});
