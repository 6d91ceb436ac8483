/** A raw protocol client for tests: bytes out, backend messages in (decoded by pg-protocol, the oracle). */
import { connect, type Socket } from 'node:net';
import { Parser } from 'pg-protocol/dist/parser.js';
import type { BackendMessage } from 'pg-protocol/dist/messages.js';
import { serialize } from 'pg-protocol';

export interface RawClient {
  readonly socket: Socket;
  readonly messages: BackendMessage[];
  /** Bytes received that are not messages (the SSLRequest answer). */
  readonly raw: Buffer[];
  send(bytes: Buffer): void;
  /** Wait for a message matching `pred` (checking those already received first). */
  waitFor(pred: (m: BackendMessage) => boolean, timeoutMs?: number): Promise<BackendMessage>;
  closed: Promise<void>;
  /** Treat the next `n` bytes as raw (for the one-byte SSL answer). */
  expectRaw(n: number): Promise<Buffer>;
  end(): void;
}

export async function rawConnect(port: number, host = '127.0.0.1'): Promise<RawClient> {
  const socket = connect(port, host);
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  socket.on('error', () => undefined);
  const parser = new Parser();
  const messages: BackendMessage[] = [];
  const raw: Buffer[] = [];
  let rawWanted = 0;
  let rawWaiter: ((b: Buffer) => void) | undefined;
  let notify: () => void = () => undefined;
  socket.on('data', (chunk: Buffer) => {
    let data = chunk;
    if (rawWanted > 0) {
      const take = data.subarray(0, rawWanted);
      rawWanted -= take.length;
      raw.push(take);
      data = data.subarray(take.length);
      if (rawWanted === 0) rawWaiter?.(Buffer.concat(raw));
    }
    if (data.length) parser.parse(data, (m) => messages.push(m));
    notify();
  });
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  return {
    socket,
    messages,
    raw,
    send: (bytes) => socket.write(bytes),
    closed,
    expectRaw: (n) =>
      new Promise((resolve) => {
        rawWanted = n;
        rawWaiter = resolve;
      }),
    waitFor: (pred, timeoutMs = 5000) =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`timed out; got ${messages.map((m) => m.name).join(', ')}`)), timeoutMs);
        const check = (): void => {
          const found = messages.find(pred);
          if (found) {
            clearTimeout(timer);
            resolve(found);
          }
        };
        const previous = notify;
        notify = () => {
          previous();
          check();
        };
        check();
      }),
    end: () => socket.end(),
  };
}

/** A started session: startup sent and ReadyForQuery received. */
export async function rawSession(port: number): Promise<RawClient> {
  const c = await rawConnect(port);
  c.send(serialize.startup({ user: 'materialize', database: 'materialize' }));
  await c.waitFor((m) => m.name === 'readyForQuery');
  return c;
}

/** A frame with an arbitrary type byte and body. */
export function frame(type: string, body: Buffer, length = body.length + 4): Buffer {
  const head = Buffer.alloc(5);
  head.write(type, 0, 'latin1');
  head.writeInt32BE(length, 1);
  return Buffer.concat([head, body]);
}
