import { createHash } from 'node:crypto';
import { realpath, rm } from 'node:fs/promises';
import { connect, createServer, type Server } from 'node:net';
import { join, relative } from 'node:path';

export interface DataDirLock {
  release(): Promise<void>;
}

/** sun_path holds 108 bytes on Linux and 104 on macOS, NUL included: stay under both. */
const MAX_SOCKET_PATH = 103;

/**
 * One server per data directory: PGlite is not safe to open twice.
 *
 * The lock is a Unix socket listening at `<dataDir>/iamlink.lock`, not a pid file: the kernel
 * closes the socket the moment its process dies, even while the process is an unreaped zombie
 * after `kill -9`, so a restart is never refused by a dead owner, and a pid reused by an
 * unrelated process (common in containers) cannot keep the lock. A socket file nobody listens on
 * is stale and is taken over.
 */
export async function acquireDataDirLock(dataDir: string): Promise<DataDirLock> {
  const path = await socketPath(dataDir);
  for (let attempt = 0; attempt < 3; attempt++) {
    const server = createServer((socket) => socket.destroy());
    try {
      await listen(server, path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
      // An abstract name vanishes with its socket: in use means held by a live process.
      if (path.startsWith('\0') || (await someoneListens(path))) {
        throw new Error(`data directory ${dataDir} is in use by another iamlink process`);
      }
      // Stale file left by a dead owner. Two processes taking over the same stale file at the
      // same instant could both succeed; starting two servers at once on one directory is not
      // a case we guard against beyond that.
      await rm(path, { force: true });
      continue;
    }
    // Never keep the process alive for the lock alone; accept errors (EMFILE) must not crash it.
    server.unref();
    server.on('error', () => undefined);
    // Older versions locked with a pid file; it means nothing now.
    await rm(join(dataDir, 'iamlink.pid'), { force: true }).catch(() => undefined);
    let released: Promise<void> | undefined;
    return {
      // Closing a path socket server also removes its file.
      release: () => (released ??= new Promise<void>((resolve) => server.close(() => resolve()))),
    };
  }
  throw new Error(`could not lock data directory ${dataDir}`);
}

/**
 * Unix socket paths are short. A too-long absolute path is tried relative to the working
 * directory (the server never changes it, and the file is removed by the same relative path on
 * close), else the Linux abstract namespace keyed by the directory's real path is used: no file,
 * so it is never stale, but it is scoped to the network namespace rather than the filesystem.
 */
async function socketPath(dataDir: string): Promise<string> {
  const absolute = join(await realpath(dataDir), 'iamlink.lock');
  if (Buffer.byteLength(absolute) <= MAX_SOCKET_PATH) return absolute;
  const rel = relative(process.cwd(), absolute);
  if (Buffer.byteLength(rel) <= MAX_SOCKET_PATH) return rel;
  return '\0iamlink-' + createHash('sha256').update(absolute).digest('hex').slice(0, 32);
}

function listen(server: Server, path: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

/** Whether a live process listens at path; refused (or a non-socket file) means stale. */
function someoneListens(path: string): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const socket = connect(path);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', (err: NodeJS.ErrnoException) => {
      socket.destroy();
      if (err.code === 'ECONNREFUSED' || err.code === 'ENOENT') resolve(false);
      // A full backlog: the owner is alive, just not accepting right now.
      else if (err.code === 'EAGAIN') resolve(true);
      else reject(err);
    });
  });
}
