/** Starting the built iamlink (dist/main.js) as its own process for benchmarks. */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const MAIN = fileURLToPath(new URL('../dist/main.js', import.meta.url));
/** A node that has not printed its listening line by then is taken as failed. */
const START_TIMEOUT_MS = 180_000;

export interface Child {
  readonly url: string;
  readonly port: number;
  readonly pid: number;
  /** From spawn to the "listening" line. */
  readonly startMs: number;
  stop(): Promise<void>;
}

/**
 * Where the node keeps its catalog: the embedded store in `dataDir` (--data-dir), or the shared
 * store at `catalogUrl` (--catalog-url, with --secrets-key-file, the same file for every node).
 */
export type IamlinkStore = { readonly dataDir: string } | { readonly catalogUrl: string; readonly secretsKeyFile: string };

export interface IamlinkOptions {
  /** More iamlink flags (e.g. --aws-connection-role-arn, --max-message-bytes). */
  readonly flags?: readonly string[];
  /** Flags for node itself, e.g. ['--cpu-prof', '--cpu-prof-dir', dir] to profile the node. */
  readonly nodeFlags?: readonly string[];
}

function storeFlags(store: IamlinkStore): string[] {
  return 'dataDir' in store ? ['--data-dir', store.dataDir] : ['--catalog-url', store.catalogUrl, '--secrets-key-file', store.secretsKeyFile];
}

/** Start iamlink on `store` on a free loopback port, and wait until it listens. */
export async function startIamlink(store: IamlinkStore, options: IamlinkOptions = {}): Promise<Child> {
  const started = performance.now();
  // BENCH_CPU_PROF=<dir>: every node writes a V8 CPU profile there when it stops.
  const profile = process.env.BENCH_CPU_PROF ? ['--cpu-prof', '--cpu-prof-dir', process.env.BENCH_CPU_PROF] : [];
  const args = [...profile, ...(options.nodeFlags ?? []), MAIN, ...storeFlags(store), '--listen', '127.0.0.1:0', '--log-level', 'warn', ...(options.flags ?? [])];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let timer: NodeJS.Timeout | undefined;
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /connect with: psql (\S+)/.exec(out);
      if (m) resolve(m[1]!);
    });
    void exited.then(() => reject(new Error(`iamlink exited during startup (exit code ${child.exitCode ?? child.signalCode})`)));
    timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`iamlink did not listen within ${START_TIMEOUT_MS / 1000} s`));
    }, START_TIMEOUT_MS);
  }).finally(() => clearTimeout(timer));
  const startMs = performance.now() - started;
  return {
    url,
    port: Number(new URL(url).port),
    pid: child.pid!,
    startMs,
    stop: async () => {
      child.kill('SIGTERM');
      // Past the node's own shutdown grace (10 s by default), stop it for good.
      const killer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(killer);
    },
  };
}
