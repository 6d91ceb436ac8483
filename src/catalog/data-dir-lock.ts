import { open, readFile, rm } from 'node:fs/promises';

export interface DataDirLock {
  release(): Promise<void>;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * One server per data directory: PGlite is not safe to open twice. A lock left by a killed
 * server (its pid no longer runs) is taken over.
 */
export async function acquireDataDirLock(dataDir: string): Promise<DataDirLock> {
  const path = `${dataDir}/iamlink.pid`;
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const handle = await open(path, 'wx', 0o600);
      await handle.writeFile(String(process.pid));
      await handle.close();
      return { release: () => rm(path, { force: true }) };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const owner = Number((await readFile(path, 'utf8').catch(() => '')).trim());
      if (owner > 0 && owner !== process.pid && alive(owner)) {
        throw new Error(`data directory ${dataDir} is in use by process ${owner}`);
      }
      await rm(path, { force: true });
    }
  }
  throw new Error(`could not lock data directory ${dataDir}`);
}
