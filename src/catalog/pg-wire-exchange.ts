/**
 * Protocol messages exchanged as bytes on an idle node-postgres client. node-postgres connects,
 * authenticates (SCRAM, TLS) and pools; a client read then needs the server's own answer frames
 * (RowDescription, DataRow in the client's formats, ErrorResponse) passed through unchanged,
 * which its query API does not give. So, between two of its queries, the client's socket is
 * borrowed: its parser set aside, our messages written, the answer read as frames until the
 * expected number of ReadyForQuery, and the parser put back.
 */
import { connect as connectTcp } from 'node:net';
import type pg from 'pg';
import { serialize } from 'pg-protocol';
import type { Frame } from '../protocol-frames.js';

export interface ExchangeOptions {
  /** ReadyForQuery messages that end the exchange (one per Sync or simple Query sent). */
  readonly readyCount: number;
  /** More answer bytes than this: the exchange stops and the client is unusable. */
  readonly maxBytes: number;
  /** No complete answer by then: the exchange stops and the client is unusable. */
  readonly deadlineMs: number;
  /** Sends the server a CancelRequest for the running statement; the exchange goes on to its answer. */
  readonly cancel?: AbortSignal;
}

export interface ExchangeResult {
  /** The answer, split at each ReadyForQuery (each segment without it). */
  readonly segments: Frame[][];
  /**
   * A CancelRequest was sent: it may still reach the server after the answer, and stop whatever
   * the session runs next. The caller must not give the session to anyone else.
   */
  readonly cancelSent: boolean;
}

/** Why an exchange ended without its answer; the client must be discarded. */
export class ExchangeFailure extends Error {
  constructor(
    readonly reason: 'closed' | 'too_large' | 'deadline',
    /** Frames received before it ended (a FATAL ErrorResponse says why the server closed). */
    readonly frames: readonly Frame[],
  ) {
    super(`protocol exchange with the catalog database failed: ${reason}`);
  }
}

interface PgClientInternals {
  readonly connection: { readonly stream: NodeJS.ReadWriteStream & { destroy(): void } };
  readonly processID: number | null;
  readonly secretKey: number | null;
  readonly host: string;
  readonly port: number;
}

/** Reassembles frames from socket chunks without copying a large message more than once. */
class FrameReader {
  private chunks: Buffer[] = [];
  private buffered = 0;

  /** Add a chunk; returns the complete frames now available. */
  push(chunk: Buffer): Frame[] {
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    const frames: Frame[] = [];
    for (;;) {
      if (this.buffered < 5) break;
      const head = this.chunks[0]!.length >= 5 ? this.chunks[0]! : this.flatten();
      const size = 1 + head.readInt32BE(1);
      if (this.buffered < size) break;
      const all = this.chunks.length === 1 ? this.chunks[0]! : this.flatten();
      frames.push({ type: String.fromCharCode(all[0]!), bytes: all.subarray(0, size) });
      const rest = all.subarray(size);
      this.chunks = rest.length > 0 ? [rest] : [];
      this.buffered = rest.length;
    }
    return frames;
  }

  private flatten(): Buffer {
    const all = Buffer.concat(this.chunks);
    this.chunks = [all];
    return all;
  }
}

/**
 * Write `messages` on the idle `client` and read its answer up to the `readyCount`-th
 * ReadyForQuery. On an ExchangeFailure the caller must release the client as broken.
 */
export function exchangeRaw(client: pg.Client, messages: Buffer, options: ExchangeOptions): Promise<ExchangeResult> {
  const internals = client as unknown as PgClientInternals;
  const stream = internals.connection.stream;
  const parserListeners = stream.listeners('data') as ((chunk: Buffer) => void)[];
  stream.removeAllListeners('data');
  const reader = new FrameReader();
  const segments: Frame[][] = [[]];
  let bytes = 0;
  let ready = 0;
  let cancelSent = false;
  return new Promise<ExchangeResult>((resolve, reject) => {
    let timer: NodeJS.Timeout | undefined;
    const onCancel = () => {
      cancelSent = true;
      sendCancel(internals);
    };
    const finish = (failure?: ExchangeFailure) => {
      clearTimeout(timer);
      options.cancel?.removeEventListener('abort', onCancel);
      stream.off('data', onData);
      stream.off('close', onClose);
      if (failure) {
        stream.destroy();
        reject(failure);
        return;
      }
      for (const l of parserListeners) stream.on('data', l);
      resolve({ segments, cancelSent });
    };
    const received = () => segments.flat();
    const onData = (chunk: Buffer) => {
      bytes += chunk.length;
      if (bytes > options.maxBytes) return finish(new ExchangeFailure('too_large', received()));
      for (const frame of reader.push(chunk)) {
        if (frame.type !== 'Z') {
          segments[segments.length - 1]!.push(frame);
          continue;
        }
        if (++ready === options.readyCount) return finish();
        segments.push([]);
      }
    };
    const onClose = () => finish(new ExchangeFailure('closed', received()));
    stream.on('data', onData);
    stream.on('close', onClose);
    timer = setTimeout(() => finish(new ExchangeFailure('deadline', received())), options.deadlineMs);
    if (options.cancel) {
      if (options.cancel.aborted) onCancel();
      else options.cancel.addEventListener('abort', onCancel, { once: true });
    }
    stream.write(messages);
  });
}

/** PostgreSQL's cancel: a CancelRequest with the session's key, on a connection of its own. */
function sendCancel(client: PgClientInternals): void {
  if (client.processID === null || client.secretKey === null) return;
  const socket = connectTcp(client.port, client.host, () => socket.end(serialize.cancel(client.processID!, client.secretKey!)));
  socket.on('error', () => undefined);
  socket.setTimeout(5000, () => socket.destroy());
}
