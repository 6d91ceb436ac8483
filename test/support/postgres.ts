/**
 * A real, throwaway PostgreSQL server for tests, built from nothing: its own data directory,
 * port and socket directory under os.tmpdir(), so it never touches (or relies on) a cluster the
 * Debian package may have started on 5432. CI installs the server in .ci/run.
 */
import { execFile } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { chown, mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';

const exec = promisify(execFile);

export interface PostgresServer {
  host: string;
  port: number;
  url: string;
  dataDir: string;
  stop(): Promise<void>;
  restart(): Promise<void>;
  client(): Promise<pg.Client>;
}

const hasServer = (dir: string) => ['initdb', 'pg_ctl', 'postgres'].every((b) => existsSync(join(dir, b)));

async function findBinDir(): Promise<string> {
  // pg_config can come from libpq-dev alone (or another major version), so check the server is really there.
  const fromPgConfig = await exec('pg_config', ['--bindir']).then((r) => r.stdout.trim(), () => '');
  if (fromPgConfig && hasServer(fromPgConfig)) return fromPgConfig;
  const debian = existsSync('/usr/lib/postgresql') ? readdirSync('/usr/lib/postgresql') : [];
  const newest = debian.sort((a, b) => Number(b) - Number(a)).map((v) => `/usr/lib/postgresql/${v}/bin`).find(hasServer);
  if (newest) return newest;
  // Anything else (Homebrew, a source build): initdb and pg_ctl on PATH. pg_ctl finds postgres next to itself.
  const onPath = (process.env.PATH ?? '').split(delimiter).find((d) => d && existsSync(join(d, 'initdb')) && existsSync(join(d, 'pg_ctl')));
  if (onPath) return onPath;
  throw new Error('No PostgreSQL server binaries (initdb, pg_ctl) found: install the postgresql package; .ci/run does this.');
}

// PostgreSQL refuses to run as root, so as root every server command runs as the postgres OS user.
// runuser (util-linux, always on Debian) takes an argument array: no shell, no quoting of paths.
const asRoot = process.getuid?.() === 0;

const postgresId = async (flag: '-u' | '-g') => Number((await exec('id', [flag, 'postgres'])).stdout.trim());
const shQuote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

async function ensurePostgresUser(): Promise<void> {
  // The Debian postgresql package creates this user; a machine with binaries from elsewhere may lack it.
  if (asRoot && !(await postgresId('-u').then(() => true, () => false))) await exec('useradd', ['--system', '--no-create-home', 'postgres']);
}

async function pgRun(bin: string, args: string[], cwd: string): Promise<string> {
  // cwd: the postgres user may not be allowed into the caller's working directory.
  const [file, argv] = asRoot ? ['runuser', ['-u', 'postgres', '--', bin, ...args]] : [bin, args];
  try {
    const { stdout, stderr } = await exec(file, argv, { cwd });
    return stdout + stderr;
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string; message: string };
    throw new Error(`${[bin, ...args].join(' ')} failed: ${err.stderr || err.stdout || err.message}`);
  }
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer().once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

async function connect(port: number): Promise<pg.Client> {
  const c = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', database: 'postgres' });
  await c.connect();
  return c;
}

/** pg_ctl -w already waits for the socket; this confirms TCP on 127.0.0.1 works too, as tests will use it. */
async function waitReady(port: number, ms = 30_000): Promise<void> {
  for (const deadline = Date.now() + ms; ; ) {
    try {
      await (await connect(port)).end();
      return;
    } catch (e) {
      if (Date.now() > deadline) throw e;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

export async function startPostgres(options: { settings?: Record<string, string> } = {}): Promise<PostgresServer> {
  const bin = await findBinDir();
  await ensurePostgresUser();
  const dir = await mkdtemp(join(tmpdir(), 'iamlink-pg-'));
  const dataDir = join(dir, 'data');
  const log = join(dir, 'log');
  const pgCtl = join(bin, 'pg_ctl');
  const clients = new Set<pg.Client>();
  let port = 0;
  // Durability is pointless for a throwaway server; the socket lives in our dir, never /var/run/postgresql.
  // pg_ctl hands -o to /bin/sh, so every word is single-quoted (setting values may hold spaces).
  const settings = { listen_addresses: '127.0.0.1', fsync: 'off', synchronous_commit: 'off', full_page_writes: 'off', ...options.settings };
  const opts = () => ['-p', String(port), '-k', dir, ...Object.entries(settings).flatMap(([k, v]) => ['-c', `${k}=${v}`])].map(shQuote).join(' ');
  // The server drops these on stop/restart anyway; closing them first avoids an unhandled 'error' event.
  const closeClients = async () => {
    await Promise.allSettled([...clients].map((c) => c.end()));
    clients.clear();
  };
  const stop = async () => {
    await closeClients();
    // postmaster.pid, not `started`: a start that timed out may still have left a server running.
    if (existsSync(join(dataDir, 'postmaster.pid'))) await pgRun(pgCtl, ['-D', dataDir, 'stop', '-m', 'immediate', '-w'], dir).catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  };
  try {
    if (asRoot) await chown(dir, await postgresId('-u'), await postgresId('-g'));
    const initdb = (locale: string) =>
      pgRun(join(bin, 'initdb'), ['-D', dataDir, '-U', 'postgres', '--auth=trust', '--no-sync', '-E', 'UTF8', `--locale=${locale}`], dir);
    // C.UTF-8 is missing on some older or minimal systems; plain C works with any encoding.
    await initdb('C.UTF-8').catch(async (e: Error) => {
      if (!/locale/i.test(e.message)) throw e;
      await rm(dataDir, { recursive: true, force: true });
      await initdb('C');
    });
    // Another process can take the port between our probe and the server's bind: retry with a fresh one.
    for (let attempt = 1; ; attempt++) {
      port = await freePort();
      await rm(log, { force: true }); // judge this attempt by its own log only
      try {
        await pgRun(pgCtl, ['-D', dataDir, '-o', opts(), '-l', log, '-w', 'start'], dir);
        break;
      } catch (e) {
        const serverLog = await readFile(log, 'utf8').catch(() => '');
        if (attempt >= 3 || !/address already in use/i.test(serverLog)) throw new Error(`${(e as Error).message}\n${serverLog}`);
      }
    }
    await waitReady(port);
  } catch (e) {
    await stop();
    throw e;
  }
  return {
    host: '127.0.0.1',
    port,
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    dataDir,
    stop,
    async restart() {
      await closeClients();
      await pgRun(pgCtl, ['-D', dataDir, '-o', opts(), '-l', log, '-m', 'fast', '-w', 'restart'], dir);
      await waitReady(port);
    },
    async client() {
      const c = await connect(port);
      clients.add(c);
      c.once('end', () => clients.delete(c));
      return c;
    },
  };
}
