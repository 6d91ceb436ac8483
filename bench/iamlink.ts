/** Starting the built iamlink (dist/main.js) as its own process for benchmarks. */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const MAIN = fileURLToPath(new URL('../dist/main.js', import.meta.url));

export interface Child {
  readonly url: string;
  readonly port: number;
  readonly pid: number;
  /** From spawn to the "listening" line. */
  readonly startMs: number;
  stop(): Promise<void>;
}

/** Start iamlink on `dataDir` with `flags`, on a free loopback port, and wait until it listens. */
export async function startIamlink(dataDir: string, flags: readonly string[] = []): Promise<Child> {
  const started = performance.now();
  const child = spawn(process.execPath, [MAIN, '--data-dir', dataDir, '--listen', '127.0.0.1:0', '--log-level', 'warn', ...flags], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /connect with: psql (\S+)/.exec(out);
      if (m) resolve(m[1]!);
    });
    void exited.then(() => reject(new Error('iamlink exited during startup')));
  });
  return {
    url,
    port: Number(new URL(url).port),
    pid: child.pid!,
    startMs: performance.now() - started,
    stop: async () => {
      child.kill('SIGTERM');
      await exited;
    },
  };
}
