/**
 * The AWS side of the validation tests: the project's STS emulator, or LocalStack (or any
 * STS/IAM endpoint) when AWS_ENDPOINT_URL is set. Accounts: the platform (jump role, the
 * user iamlink runs as) and a customer.
 */
import { CreateAccessKeyCommand, CreateRoleCommand, CreateUserCommand, DeleteRoleCommand, IAMClient, UpdateAssumeRolePolicyCommand } from '@aws-sdk/client-iam';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import type { Faults, LoggedRequest } from '../emulators/sts/emulator.js';

const EMULATOR_MAIN = fileURLToPath(new URL('../emulators/sts/main.ts', import.meta.url));

export const PLATFORM = '111111111111';
export const CUSTOMER = '222222222222';

export interface AwsEnv {
  readonly endpoint: string;
  /** Whether this is the project's emulator (fault injection, request log, clock), not LocalStack. */
  readonly emulated: boolean;
  readonly jumpRoleArn: string;
  /** The long-lived key iamlink runs as (its ambient identity). */
  readonly ambient: { accessKeyId: string; secretAccessKey: string };
  iam(account: string): IAMClient;
  createUserWithKey(account: string): Promise<{ arn: string; accessKeyId: string; secretAccessKey: string }>;
  /** Create (or replace) a role in the customer account with this trust policy; returns its ARN. */
  customerRole(policy: object): Promise<string>;
  requests(): Promise<LoggedRequest[]>;
  setFaults(f: Faults): Promise<void>;
  setClockSkew(ms: number): Promise<void>;
  stop(): Promise<void>;
}

export const unique = (prefix: string): string => `${prefix}-${randomBytes(4).toString('hex')}`;

/**
 * The emulator runs in its own process, as STS would be remote: its signature checks must not
 * compete with the server under test for one event loop.
 */
async function spawnEmulator(): Promise<{ url: string; child: ChildProcess }> {
  const child = spawn(process.execPath, ['--import', 'tsx', EMULATOR_MAIN], { env: { ...process.env, PORT: '0' }, stdio: ['ignore', 'pipe', 'inherit'] });
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /STS emulator on (\S+)/.exec(out);
      if (m) resolve(m[1]!);
    });
    child.once('exit', (code) => reject(new Error(`STS emulator exited with ${code}`)));
  });
  return { url, child };
}

export async function startAwsEnv(): Promise<AwsEnv> {
  const external = process.env.AWS_ENDPOINT_URL;
  const emulator = external ? undefined : await spawnEmulator();
  const endpoint = external ?? emulator!.url;
  const admin = async (path: string, body?: object): Promise<Response> => {
    const res = await fetch(`${endpoint}/__emulator/${path}`, body ? { method: 'POST', body: JSON.stringify(body) } : {});
    if (!res.ok) throw new Error(`emulator ${path}: ${res.status}`);
    return res;
  };
  const iam = (account: string): IAMClient =>
    new IAMClient({ endpoint, region: 'us-east-1', credentials: { accessKeyId: account, secretAccessKey: 'test' } });
  const createUserWithKey = async (account: string): Promise<{ arn: string; accessKeyId: string; secretAccessKey: string }> => {
    const name = unique('user');
    const user = await iam(account).send(new CreateUserCommand({ UserName: name }));
    const key = await iam(account).send(new CreateAccessKeyCommand({ UserName: name }));
    return { arn: user.User!.Arn!, accessKeyId: key.AccessKey!.AccessKeyId!, secretAccessKey: key.AccessKey!.SecretAccessKey! };
  };
  const ambientUser = await createUserWithKey(PLATFORM);
  const jumpName = unique('iamlink-jump');
  const jump = await iam(PLATFORM).send(
    new CreateRoleCommand({
      RoleName: jumpName,
      AssumeRolePolicyDocument: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: ambientUser.arn }, Action: 'sts:AssumeRole' }] }),
    }),
  );
  const customerRoles = new Map<string, string>();
  return {
    endpoint,
    emulated: emulator !== undefined,
    jumpRoleArn: jump.Role!.Arn!,
    ambient: { accessKeyId: ambientUser.accessKeyId, secretAccessKey: ambientUser.secretAccessKey },
    iam,
    createUserWithKey,
    customerRole: async (policy) => {
      const name = unique('customer');
      const role = await iam(CUSTOMER).send(new CreateRoleCommand({ RoleName: name, AssumeRolePolicyDocument: JSON.stringify(policy) }));
      customerRoles.set(name, role.Role!.Arn!);
      return role.Role!.Arn!;
    },
    requests: async () => (emulator ? ((await (await admin('requests')).json()) as LoggedRequest[]) : []),
    setFaults: async (f) => {
      if (emulator) await admin('faults', f);
    },
    setClockSkew: async (skewMs) => {
      if (emulator) await admin('clock', { skewMs });
    },
    stop: async () => {
      for (const name of customerRoles.keys()) await iam(CUSTOMER).send(new DeleteRoleCommand({ RoleName: name })).catch(() => undefined);
      emulator?.child.kill('SIGKILL');
    },
  };
}

/** The trust policy a customer should install (what example_trust_policy says). */
export function trustingJump(jumpRoleArn: string, condition?: object): object {
  return {
    Version: '2012-10-17',
    Statement: [{ Effect: 'Allow', Principal: { AWS: jumpRoleArn }, Action: 'sts:AssumeRole', ...(condition ? { Condition: condition } : {}) }],
  };
}

export { UpdateAssumeRolePolicyCommand };
