/** Materialize's environment ids are accepted, and the default role session names they give stay valid. */
import { describe, expect, it } from 'vitest';
import { defaultSessionName } from '../../src/aws/trust-policy.js';
import { ConfigError, loadConfig } from '../../src/config.js';

const MATERIALIZE_IDS = [
  'aws-us-east-1-4b8c7c1e-1111-4222-8333-944455556666-0',
  'aws-ap-southeast-1-4b8c7c1e-1111-4222-8333-944455556666-0',
  'aws-ap-southeast-1-4b8c7c1e-1111-4222-8333-944455556666-12',
  'gcp-europe-west3-4b8c7c1e-1111-4222-8333-944455556666-0',
  'local-az1-4b8c7c1e-1111-4222-8333-944455556666-0',
];
/** AWS's rule for RoleSessionName. */
const SESSION_NAME = /^[\w+=,.@-]{2,64}$/;

describe('environment ids', () => {
  it("accepts every shape of Materialize's environment ids", () => {
    for (const id of MATERIALIZE_IDS) expect(loadConfig(['--environment-id', id], {}).environmentId).toBe(id);
  });

  it('refuses ids that could not name a role session, naming the flag', () => {
    for (const bad of ['', 'has space', 'slash/y', '-leading-dash', 'x'.repeat(129)]) {
      if (bad === '') continue; // empty means unset
      expect(() => loadConfig(['--environment-id', bad], {})).toThrow(ConfigError);
      expect(() => loadConfig(['--environment-id', bad], {})).toThrow(/--environment-id/);
    }
  });

  it('gives default role session names AWS accepts: whole when they fit, else shortened with a digest', () => {
    expect(defaultSessionName('aws-us-east-1-4b8c7c1e-1111-4222-8333-944455556666-0', 'u42')).toBe('aws-us-east-1-4b8c7c1e-1111-4222-8333-944455556666-0-u42');
    for (const id of MATERIALIZE_IDS) {
      for (const conn of ['u1', 'u123456789', 'jump']) {
        const name = defaultSessionName(id, conn);
        expect(name).toMatch(SESSION_NAME);
        expect(name.endsWith(`-${conn}`)).toBe(true);
        expect(defaultSessionName(id, conn)).toBe(name); // deterministic
      }
    }
    // Two environments that differ only in their ordinal (the end) keep different names.
    const a = defaultSessionName('aws-ap-southeast-1-4b8c7c1e-1111-4222-8333-944455556666-0', 'u123456789');
    const b = defaultSessionName('aws-ap-southeast-1-4b8c7c1e-1111-4222-8333-944455556666-1', 'u123456789');
    expect(a).not.toBe(b);
    expect(defaultSessionName('x'.repeat(128), 'u1')).toMatch(SESSION_NAME);
  });
});

describe('the command line', () => {
  it('--help names every flag with its environment variable and default; --version prints the version', async () => {
    const { execFileSync } = await import('node:child_process');
    const { readFileSync } = await import('node:fs');
    const main = new URL('../../dist/main.js', import.meta.url).pathname;
    const help = execFileSync(process.execPath, [main, '--help'], { encoding: 'utf8' });
    for (const flag of ['listen', 'data-dir', 'aws-connection-role-arn', 'statement-timeout-ms', 'max-connections', 'aws-sts-timeout']) {
      expect(help).toContain(`--${flag} <value>`);
      expect(help).toContain(`IAMLINK_${flag.toUpperCase().replace(/-/g, '_')}`);
    }
    expect(help).toContain('default 127.0.0.1:6875');
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    expect(execFileSync(process.execPath, [main, '--version'], { encoding: 'utf8' })).toBe(`iamlink ${pkg.version}\n`);
  });
});
