/** iamlink as a child process, started the way `npm start` starts it (the built dist/main.js). */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const MAIN = fileURLToPath(new URL('../../dist/main.js', import.meta.url));

export interface ChildServer {
  readonly process: ChildProcess;
  readonly url: string;
  readonly port: number;
  stdout(): string;
  /** Resolves with the exit code (or signal name). */
  readonly exited: Promise<number | string>;
}

/** Run the CLI; resolve once it prints its startup line, reject if it exits first. */
export function startChild(args: string[], env: NodeJS.ProcessEnv = {}): Promise<ChildServer> {
  const child = spawn(process.execPath, [MAIN, ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  const exited = new Promise<number | string>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal ?? -1)));
  return new Promise((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /listening on [^ ]+:(\d+) .*connect with: psql (\S+)/.exec(out);
      if (m) resolve({ process: child, port: Number(m[1]), url: m[2]!, stdout: () => out, exited });
    });
    child.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
    });
    void exited.then((code) => reject(new ChildExit(code, err, out)));
  });
}

export class ChildExit extends Error {
  constructor(
    readonly code: number | string,
    readonly stderr: string,
    readonly stdout: string,
  ) {
    super(`iamlink exited with ${code}: ${stderr}`);
  }
}

/** Run the CLI expecting it to exit before listening. */
export async function runChildExpectingExit(args: string[], env: NodeJS.ProcessEnv = {}): Promise<ChildExit> {
  try {
    const started = await startChild(args, env);
    started.process.kill('SIGKILL');
    throw new Error('iamlink started, expected it to refuse');
  } catch (err) {
    if (err instanceof ChildExit) return err;
    throw err;
  }
}
