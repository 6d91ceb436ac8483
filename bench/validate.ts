/**
 * VALIDATE latency with the STS emulator adding 50 ms to every call: median over 50 runs with
 * the jump role's credentials warm and cold, and validations per second from 32 sessions.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { JumpRoleCredentials } from '../src/aws/jump-role.js';
import { AwsSdkSts } from '../src/aws/sts.js';
import { Validator } from '../src/aws/validator.js';
import { loadConfig } from '../src/config.js';
import { createLogger } from '../src/log.js';
import { startServer } from '../src/server.js';
import { CUSTOMER, startAwsEnv, trustingJump } from '../test/aws/aws-env.js';

const RUNS = 50;
const LATENCY_MS = 50;

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

export async function benchValidate(): Promise<string[]> {
  const env = await startAwsEnv();
  const dir = join(mkdtempSync(join(tmpdir(), 'iamlink-bench-validate-')), 'data');
  const server = await startServer(loadConfig(['--data-dir', dir, '--listen', '127.0.0.1:0', '--aws-connection-role-arn', env.jumpRoleArn, '--environment-id', 'bench']), {
    log: createLogger('silent'),
    aws: { endpoint: env.endpoint, region: 'us-east-1', ambient: async () => env.ambient },
  });
  const rows: string[] = [];
  try {
    const c = new pg.Client({ host: server.host, port: server.port, user: 'materialize', database: 'materialize' });
    await c.connect();
    await c.query(`CREATE CONNECTION bench_conn TO AWS (ASSUME ROLE ARN = 'arn:aws:iam::${CUSTOMER}:role/placeholder')`);
    const { id, external_id: externalId } = (await c.query("SELECT c.id, external_id FROM mz_internal.mz_aws_connections aws JOIN mz_connections c ON aws.id = c.id WHERE c.name = 'bench_conn'")).rows[0];
    const roleArn = await env.customerRole(trustingJump(env.jumpRoleArn, { StringEquals: { 'sts:ExternalId': externalId } }));
    await c.query(`ALTER CONNECTION bench_conn SET (ASSUME ROLE ARN = '${roleArn}')`);
    await c.query('VALIDATE CONNECTION bench_conn');
    await env.setFaults({ latencyMs: LATENCY_MS });

    // The validator alone: cold = a fresh jump-role cache for every run.
    const sts = new AwsSdkSts({ timeoutMs: 10_000, maxAttempts: 4 });
    const target = { endpoint: env.endpoint, region: 'us-east-1' };
    const request = { kind: 'role' as const, roleArn, sessionName: `bench-${id}`, externalId, trustPolicy: '{}', target };
    const time = async (validator: Validator): Promise<number> => {
      const t = performance.now();
      await validator.validate(request);
      return performance.now() - t;
    };
    const newJump = (): JumpRoleCredentials => new JumpRoleCredentials(sts, target, async () => env.ambient, env.jumpRoleArn, 'bench-jump');
    const cold: number[] = [];
    for (let i = 0; i < RUNS; i++) cold.push(await time(new Validator(sts, newJump())));
    const warmValidator = new Validator(sts, newJump());
    await time(warmValidator);
    const warm: number[] = [];
    for (let i = 0; i < RUNS; i++) warm.push(await time(warmValidator));
    // End to end through pgwire (warm).
    const wire: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      const t = performance.now();
      await c.query('VALIDATE CONNECTION bench_conn');
      wire.push(performance.now() - t);
    }
    rows.push(`| VALIDATE latency, warm jump credentials, validator (median ms, STS +${LATENCY_MS} ms/call) | ${median(warm).toFixed(1)} | ≤ ${(2.2 * LATENCY_MS).toFixed(0)} |`);
    rows.push(`| VALIDATE latency, cold jump credentials, validator (median ms) | ${median(cold).toFixed(1)} | |`);
    rows.push(`| VALIDATE CONNECTION over pgwire, warm (median ms) | ${median(wire).toFixed(1)} | |`);

    const clients = await Promise.all(
      Array.from({ length: 32 }, async () => {
        const k = new pg.Client({ host: server.host, port: server.port, user: 'materialize', database: 'materialize' });
        await k.connect();
        return k;
      }),
    );
    let done = 0;
    const deadline = performance.now() + 5000;
    await Promise.all(
      clients.map(async (k) => {
        while (performance.now() < deadline) {
          await k.query('VALIDATE CONNECTION bench_conn');
          done++;
        }
      }),
    );
    rows.push(`| validations per second, 32 concurrent sessions | ${(done / 5).toFixed(0)} | |`);
    await Promise.all([...clients, c].map((k) => k.end()));
  } finally {
    await server.close();
    await env.stop();
    rmSync(join(dir, '..'), { recursive: true, force: true });
  }
  return rows;
}
