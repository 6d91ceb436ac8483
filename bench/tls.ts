/**
 * BENCH_PARTS=tls: what TLS and passwords cost. The lookup over TLS against plain text, and the
 * login rate (connect, SCRAM-SHA-256, SELECT 1, close: pgbench -C), with and without TLS. One
 * node on the embedded store, seeded like the lookup part; certificates made with openssl.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { PgliteStore } from '../src/catalog/pglite-store.js';
import { JUMP, seedSql } from './catalog.js';
import { startIamlink } from './iamlink.js';
import { lookupScript, pgbench } from './pgbench.js';

const run = promisify(execFile);
const CONNECTIONS = 1000;
const PASSWORD = 'bench-password';

export async function benchTls(): Promise<string[]> {
  const root = mkdtempSync(join(tmpdir(), 'iamlink-bench-tls-'));
  const ossl = (args: string[]) => run('openssl', args, { cwd: root });
  await ossl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=bench-ca']);
  await ossl(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=localhost']);
  writeFileSync(join(root, 'ext'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\n');
  await ossl(['x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.pem', '-days', '2', '-extfile', 'ext']);
  writeFileSync(join(root, 'password'), `${PASSWORD}\n`);
  const dataDir = join(root, 'data');
  const flags = ['--aws-connection-role-arn', JUMP, '--tls-cert', join(root, 'server.pem'), '--tls-key', join(root, 'server.key'), '--auth', 'password', '--bootstrap-password-file', join(root, 'password')];
  // First start migrates and sets the password; then the rows are seeded as in the lookup part.
  await (await startIamlink({ dataDir }, { flags })).stop();
  const store = await PgliteStore.open(join(dataDir, 'catalog'));
  await store.exec(seedSql(CONNECTIONS));
  await store.close();
  const node = await startIamlink({ dataDir }, { flags });
  const rows: string[] = [];
  try {
    const env = { PGPASSWORD: PASSWORD };
    const at = (sslmode: string) => `postgres://materialize@localhost:${node.port}/materialize?sslmode=${sslmode}&sslrootcert=${join(root, 'ca.pem')}`;
    const script = lookupScript(CONNECTIONS);
    const plain = await pgbench(at('disable'), script, { env });
    const tls = await pgbench(at('verify-full'), script, { env });
    rows.push(`| lookup by name, ${CONNECTIONS.toLocaleString('en')} connections, TLS vs plain (TPS, 4 clients) | ${tls.toFixed(0)} | ${plain.toFixed(0)} | ${(tls / plain).toFixed(2)} | ≥ 0.8 |`);
    const select1 = join(root, 'select1.sql');
    writeFileSync(select1, 'SELECT 1;\n');
    // -C: a new connection (startup, SCRAM, SELECT 1, close) for every transaction.
    const loginPlain = await pgbench(at('disable'), select1, { env, connect: true });
    const loginTls = await pgbench(at('verify-full'), select1, { env, connect: true });
    rows.push(`| SCRAM-SHA-256 logins per second (connect + SELECT 1 + close, 4 clients), plain | ${loginPlain.toFixed(0)} | | | |`);
    rows.push(`| … over TLS (verify-full, channel binding) | ${loginTls.toFixed(0)} | | ${(loginTls / loginPlain).toFixed(2)} | |`);
  } finally {
    await node.stop();
    rmSync(root, { recursive: true, force: true });
  }
  return rows;
}
