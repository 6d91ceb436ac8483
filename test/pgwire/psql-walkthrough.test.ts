import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { useTestServer } from '../support/server.js';

const run = promisify(execFile);
const WALKTHROUGH = fileURLToPath(new URL('../fixtures/walkthrough.sql', import.meta.url));

describe('the README walkthrough through the real psql binary', () => {
  const server = useTestServer();

  it('runs every step with ON_ERROR_STOP and prints what the README shows', async () => {
    const { stdout, stderr } = await run('psql', ['-X', '-v', 'ON_ERROR_STOP=1', server().url, '-f', WALKTHROUGH], { env: { ...process.env, PGCONNECT_TIMEOUT: '10' } });
    expect(stdout).toContain('CREATE SECRET');
    expect(stdout.match(/^CREATE CONNECTION$/gm)).toHaveLength(2);
    // The assume-role connection: principal is the jump role, the external id is mz_<prefix>_<id>.
    expect(stdout).toMatch(/arn:aws:iam::123456789012:role\/iamlink-jump \| mz_test-prefix_u3 \| \{"Version": "2012-10-17", "Statement": \[\{"Action": "sts:AssumeRole", "Effect": "Allow", "Condition": \{"StringEquals": \{"sts:ExternalId": "mz_test-prefix_u3"\}\}, "Principal": \{"AWS": "arn:aws:iam::123456789012:role\/iamlink-jump"\}\}\]\}/);
    expect(stdout).toMatch(/ aws_conn \| aws +\| *\n aws_keys \| aws +\| *\n\(2 rows\)/);
    expect(stdout).toMatch(/ aws_secret_key \| *\n\(1 row\)/);
    expect(stdout).toContain(`materialize.public.aws_conn | CREATE CONNECTION materialize.public.aws_conn TO AWS (ASSUME ROLE ARN = 'arn:aws:iam::001234567890:role/Customer');`);
    expect(stdout).toContain('ALTER CONNECTION');
    expect(stderr).toContain('ERROR:  cannot drop secret "aws_secret_key": still depended upon by connection "aws_keys"');
    expect(stderr).toContain('HINT:  Drop connection "aws_keys" first, or use DROP SECRET ... CASCADE to drop it too.');
    expect(stdout).toContain('DROP CONNECTION');
    expect(stdout).toContain('DROP SECRET');
    expect(stdout).toContain('View "mz_internal.mz_aws_connections"');
    expect(stdout).toMatch(/ example_trust_policy\s+\| jsonb/);
    expect(stderr.match(/ERROR/g)).toHaveLength(1);
  });

  it('serves the psql meta-commands \\dt, \\dn, \\l and \\dv', async () => {
    const { stdout } = await run('psql', ['-X', '-v', 'ON_ERROR_STOP=1', server().url, '-c', '\\dn', '-c', '\\l', '-c', '\\dv mz_catalog.*', '-c', '\\dt mz_internal.*', '-c', '\\d mz_connections']);
    expect(stdout).toMatch(/mz_catalog\s+\|/);
    expect(stdout).toMatch(/mz_internal\s+\|/);
    expect(stdout).toContain('List of databases');
    expect(stdout).toMatch(/mz_catalog \| mz_connections\s+\| view/);
    expect(stdout).toMatch(/mz_catalog \| mz_secrets\s+\| view/);
    expect(stdout).toContain('View "mz_catalog.mz_connections"');
  });
});
