/**
 * PGlite on its own worker thread, driven by messages. A call may carry a deadline: if the
 * engine has not answered by then, the thread is terminated and a fresh one reopens the data
 * directory, and the call fails with 57014 (the only way to stop a running PGlite query).
 */
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { SqlError, SqlState } from '../errors.js';
import { readCanceled } from './read-errors.js';

const WORKER = fileURLToPath(new URL('../../engine/pglite-worker.mjs', import.meta.url));

/** An error the engine reported, with its SQLSTATE when it had one. */
export class EngineCallError extends Error {
  constructor(
    message: string,
    readonly code: string | undefined,
  ) {
    super(message);
  }
}

/**
 * A large message buffer that owns its memory moves to the engine thread instead of being
 * copied (a 30 MB query would otherwise be copied once more on the server's event loop).
 */
function transferable(args: object): ArrayBuffer[] {
  const messages = (args as { messages?: unknown }).messages;
  if (!(messages instanceof Uint8Array) || messages.byteLength < 1024 * 1024) return [];
  const buffer = messages.buffer;
  return buffer instanceof ArrayBuffer && messages.byteOffset === 0 && messages.byteLength === buffer.byteLength ? [buffer] : [];
}

export interface CallLimits {
  readonly deadlineMs?: number;
  readonly signal?: AbortSignal;
}

const canceled = readCanceled;

interface Pending {
  resolve(value: unknown): void;
  reject(err: Error): void;
}

export class EngineThread {
  private worker!: Worker;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  /** Counts engine sessions: a new one after every start (a restart, or a crash). */
  generation = 0;
  /** The worker died on its own (not stopped by us): the next call starts a new one. */
  private crashed = false;
  /** We are stopping the worker ourselves, so its exit is not a crash. */
  private stopping = false;

  private constructor(private readonly dataDir: string) {}

  static async open(dataDir: string): Promise<EngineThread> {
    const engine = new EngineThread(dataDir);
    await engine.start();
    return engine;
  }

  private start(): Promise<void> {
    this.generation++;
    this.worker = new Worker(WORKER, { workerData: { dataDir: this.dataDir } });
    const worker = this.worker;
    return new Promise((resolve, reject) => {
      worker.on('message', (msg: { ready?: boolean; id?: number; ok?: boolean; result?: unknown; error?: { message: string; code?: string } }) => {
        if (msg.ready) return resolve();
        const p = this.pending.get(msg.id!);
        if (!p) return;
        this.pending.delete(msg.id!);
        if (msg.ok) p.resolve(msg.result);
        else p.reject(new EngineCallError(msg.error!.message, msg.error!.code));
      });
      worker.once('error', (err) => {
        reject(err);
        this.failAll(err);
      });
      worker.once('exit', (code) => {
        if (worker !== this.worker) return;
        this.crashed = !this.stopping;
        this.failAll(new Error(`engine thread exited with code ${code}`));
      });
    });
  }

  private failAll(err: Error): void {
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
  }

  /**
   * Send one call. A call that overruns `deadlineMs`, or whose `signal` aborts (a client's
   * CancelRequest), restarts the engine and fails with 57014; aborted before it was sent, it is
   * not sent at all.
   */
  call<T>(op: string, args: object, limits: CallLimits = {}): Promise<T> {
    const { deadlineMs, signal } = limits;
    if (signal?.aborted) return Promise.reject(canceled('user request'));
    if (this.crashed) {
      this.crashed = false;
      return this.start().then(() => this.call<T>(op, args, limits));
    }
    const id = this.nextId++;
    const answer = new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
    });
    this.worker.postMessage({ id, op, args }, transferable(args));
    if (deadlineMs === undefined && signal === undefined) return answer;
    let timer: NodeJS.Timeout | undefined;
    let onAbort: (() => void) | undefined;
    const stopped = new Promise<never>((_, reject) => {
      const stop = (why: SqlError): void => {
        if (!this.pending.delete(id)) return; // answered meanwhile
        void this.restart().then(
          () => reject(why),
          (err: Error) => reject(err),
        );
      };
      if (deadlineMs !== undefined) timer = setTimeout(() => stop(canceled('statement timeout', deadlineMs)), deadlineMs);
      if (signal) {
        onAbort = () => stop(canceled('user request'));
        signal.addEventListener('abort', onAbort, { once: true });
      }
    });
    return Promise.race([answer, stopped]).finally(() => {
      clearTimeout(timer);
      if (onAbort) signal?.removeEventListener('abort', onAbort);
    });
  }

  /** Throw away the engine session (a fresh thread on the same data directory). */
  async reset(): Promise<void> {
    await this.restart();
  }

  /** Stop the engine mid-query and reopen the data directory. */
  private async restart(): Promise<void> {
    const old = this.worker;
    this.stopping = true;
    await old.terminate();
    this.stopping = false;
    this.failAll(new Error('engine restarted'));
    await this.start();
  }

  async close(): Promise<void> {
    await this.call('close', {});
    this.stopping = true;
    await this.worker.terminate();
  }
}
