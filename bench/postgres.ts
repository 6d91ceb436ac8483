/** A throwaway PostgreSQL server for comparisons: initdb + pg_ctl on a free port, as user postgres when run as root. */
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface BenchPostgres {
  readonly port: number;
  /** The superuser's URL of database postgres. */
  readonly url: string;
  /** The superuser's URL of database `db` on this server. */
  urlOf(db: string): string;
  /** psql as the superuser, in database postgres unless `db` is given. */
  psql(args: string[], input?: string, db?: string): string;
  /** The server's log so far (errors are logged with their statement by default). */
  log(): string;
  stop(): void;
}

function pgBin(name: string): string {
  for (const dir of ['/usr/lib/postgresql/15/bin', '/usr/lib/postgresql/16/bin', '/usr/local/bin', '/usr/bin']) {
    try {
      execFileSync('test', ['-x', join(dir, name)]);
      return join(dir, name);
    } catch {
      // next
    }
  }
  throw new Error(`${name} not found: install PostgreSQL (apt-get install postgresql)`);
}

export async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export async function startPostgres(): Promise<BenchPostgres> {
  const root = mkdtempSync(join(tmpdir(), 'iamlink-bench-pg-'));
  chmodSync(root, 0o777);
  const data = join(root, 'data');
  const port = await freePort();
  const asPostgres = (cmd: string, args: string[]): string[] => (process.getuid?.() === 0 ? ['runuser', '-u', 'postgres', '--', cmd, ...args] : [cmd, ...args]);
  const run = (cmd: string, args: string[], input?: string): string => {
    const [bin, ...rest] = asPostgres(cmd, args);
    return execFileSync(bin!, rest, { input, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'] });
  };
  run(pgBin('initdb'), ['-D', data, '-U', 'postgres', '-A', 'trust', '--no-sync']);
  run(pgBin('pg_ctl'), ['-D', data, '-l', join(root, 'log'), '-o', `-p ${port} -k ${root} -c listen_addresses=127.0.0.1`, '-w', 'start']);
  return {
    port,
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    urlOf: (db) => `postgres://postgres@127.0.0.1:${port}/${db}`,
    psql: (args, input, db = 'postgres') =>
      execFileSync('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', `postgres://postgres@127.0.0.1:${port}/${db}`, ...args], { input, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 }),
    log: () => readFileSync(join(root, 'log'), 'utf8'),
    stop: () => {
      run(pgBin('pg_ctl'), ['-D', data, '-m', 'fast', '-w', 'stop']);
      rmSync(root, { recursive: true, force: true });
    },
  };
}
