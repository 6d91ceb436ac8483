import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { useTestServer } from '../support/server.js';

const run = promisify(execFile);
const FIXTURES = fileURLToPath(new URL('../fixtures/clients/', import.meta.url));
// Debian's packages (python3-psycopg, libpostgresql-jdbc-java), which .ci/run installs.
const PYTHON = '/usr/bin/python3';
const JDBC_JAR = '/usr/share/java/postgresql.jar';

describe('other PostgreSQL drivers', () => {
  const server = useTestServer();
  const dirs: string[] = [];
  afterAll(async () => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

  it('psycopg 3 runs the walkthrough with server-side parameters and prepared statements', async () => {
    const { stdout } = await run(PYTHON, [join(FIXTURES, 'psycopg_walkthrough.py'), server().url]);
    expect(stdout).toMatch(/^lookup mz_test-prefix_u\d+$/m);
    expect(stdout).toContain('prepared ok');
    expect(stdout).toContain('show create materialize.public.py_keys');
    expect(stdout).toContain('refused 2BP01 cannot drop secret "py_secret": still depended upon by connection "py_keys"');
    expect(stdout).toMatch(/done\n$/);
  });

  it('JDBC runs the walkthrough with named server-side statements and reads metadata', async () => {
    const out = await mkdtemp(join(tmpdir(), 'iamlink-jdbc-'));
    dirs.push(out);
    await run('javac', ['-cp', JDBC_JAR, '-d', out, join(FIXTURES, 'JdbcWalkthrough.java')]);
    const url = `jdbc:postgresql://${server().host}:${server().port}/materialize?sslmode=disable`;
    const { stdout } = await run('java', ['-cp', `${out}:${JDBC_JAR}`, 'JdbcWalkthrough', url]);
    expect(stdout).toMatch(/^lookup mz_test-prefix_u\d+$/m);
    expect(stdout).toContain('refused 2BP01 ERROR: cannot drop secret "jdbc_secret": still depended upon by connection "jdbc_keys"');
    expect(stdout).toContain('metadata mz_connections');
    expect(stdout).toMatch(/done\n$/);
  });
});
