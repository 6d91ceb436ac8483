import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { lstat, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { acquireDataDirLock, type DataDirLock } from '../../src/catalog/data-dir-lock.js';

const MODULE = fileURLToPath(new URL('../../src/catalog/data-dir-lock.ts', import.meta.url));
const PROJECT = fileURLToPath(new URL('../..', import.meta.url));
const IN_USE = /data directory .* is in use/;

async function withDir(test: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'iamlink-lock-'));
  try {
    await test(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Runs a script in a child node (with tsx, from the project root) until it prints 'locked'. */
async function lockedChild(dir: string, script: string): Promise<ChildProcess> {
  const file = join(dir, 'child.mjs');
  await writeFile(file, script);
  const child = spawn(process.execPath, ['--import', 'tsx', file], { cwd: PROJECT, stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout!.setEncoding('utf8');
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (chunk: string) => {
      out += chunk;
      if (out.includes('locked')) resolve();
    });
    child.once('exit', (code, signal) => reject(new Error(`child exited (${code ?? signal}) before locking: ${out}`)));
  });
  return child;
}

async function acquireWithin(dir: string, ms: number): Promise<DataDirLock> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      return await acquireDataDirLock(dir);
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }
}

describe('data directory lock', () => {
  it('refuses a second holder in the same process until released', () =>
    withDir(async (dir) => {
      const lock = await acquireDataDirLock(dir);
      await expect(acquireDataDirLock(dir)).rejects.toThrow(IN_USE);
      await lock.release();
      await lock.release(); // idempotent
      expect(await readdir(dir)).toEqual([]);
      const again = await acquireDataDirLock(dir);
      await again.release();
    }));

  it('refuses while another process holds it, and is free right after that process is killed -9', () =>
    withDir(async (dir) => {
      const child = await lockedChild(
        dir,
        `import { acquireDataDirLock } from ${JSON.stringify(MODULE)};
        await acquireDataDirLock(${JSON.stringify(dir)});
        console.log('locked');
        setInterval(() => undefined, 60_000);`,
      );
      const exited = once(child, 'exit');
      try {
        await expect(acquireDataDirLock(dir)).rejects.toThrow(IN_USE);
        child.kill('SIGKILL');
        // Not waiting for the exit: the pid may still be an unreaped zombie, the socket is closed.
        const lock = await acquireWithin(dir, 2_000);
        await lock.release();
      } finally {
        child.kill('SIGKILL');
        await exited;
      }
    }));

  it('takes over a stale socket file nobody listens on', () =>
    withDir(async (dir) => {
      const path = join(dir, 'iamlink.lock');
      const child = await lockedChild(
        dir,
        `import { createServer } from 'node:net';
        createServer().listen(${JSON.stringify(path)}, () => console.log('locked'));`,
      );
      const exited = once(child, 'exit');
      child.kill('SIGKILL');
      await exited;
      expect((await lstat(path)).isSocket()).toBe(true);
      const lock = await acquireDataDirLock(dir);
      await expect(acquireDataDirLock(dir)).rejects.toThrow(IN_USE);
      await lock.release();
    }));

  it('takes over a regular file at the lock path', () =>
    withDir(async (dir) => {
      await writeFile(join(dir, 'iamlink.lock'), 'junk');
      const lock = await acquireDataDirLock(dir);
      expect((await lstat(join(dir, 'iamlink.lock'))).isSocket()).toBe(true);
      await lock.release();
    }));

  it('ignores and removes a legacy pid file naming a live process', () =>
    withDir(async (dir) => {
      await writeFile(join(dir, 'iamlink.pid'), String(process.ppid));
      const lock = await acquireDataDirLock(dir);
      await expect(lstat(join(dir, 'iamlink.pid'))).rejects.toMatchObject({ code: 'ENOENT' });
      await lock.release();
    }));

  it('locks a data directory whose socket path is too long for a Unix socket', () =>
    withDir(async (dir) => {
      const deep = join(dir, 'a'.repeat(60), 'b'.repeat(60));
      await mkdir(deep, { recursive: true });
      expect(Buffer.byteLength(join(deep, 'iamlink.lock'))).toBeGreaterThan(110);
      const lock = await acquireDataDirLock(deep);
      await expect(acquireDataDirLock(deep)).rejects.toThrow(IN_USE);
      await lock.release();
      const again = await acquireDataDirLock(deep);
      await again.release();
    }));
});
