/**
 * Decoding frontend messages. pg-protocol's BufferReader has no bounds checks (it is the
 * client side, reading a trusted server); a server reads untrusted bytes, so this reader
 * checks every length and terminator and throws MalformedMessage instead of reading past.
 */
import { decodeUtf8 } from '../utf8.js';
import { FrontendCode } from './codes.js';

export class MalformedMessage extends Error {}

export class CheckedReader {
  private off = 0;

  constructor(private readonly buf: Buffer) {}

  int16(): number {
    this.need(2);
    const v = this.buf.readInt16BE(this.off);
    this.off += 2;
    return v;
  }

  int32(): number {
    this.need(4);
    const v = this.buf.readInt32BE(this.off);
    this.off += 4;
    return v;
  }

  byte(): number {
    this.need(1);
    return this.buf[this.off++]!;
  }

  bytes(n: number): Buffer {
    if (n < 0) throw new MalformedMessage('negative length');
    this.need(n);
    const v = this.buf.subarray(this.off, this.off + n);
    this.off += n;
    return v;
  }

  cstring(): string {
    const end = this.buf.indexOf(0, this.off);
    if (end < 0) throw new MalformedMessage('string without terminator');
    const v = decodeUtf8(this.buf.subarray(this.off, end));
    this.off = end + 1;
    return v;
  }

  /** Messages must be consumed exactly. */
  done(): void {
    if (this.off !== this.buf.length) throw new MalformedMessage('trailing bytes in message');
  }

  private need(n: number): void {
    if (this.off + n > this.buf.length) throw new MalformedMessage('message shorter than its contents');
  }
}

export type FrontendMessage =
  | { readonly type: 'query'; readonly sql: string }
  | { readonly type: 'parse'; readonly name: string; readonly sql: string; readonly paramTypes: readonly number[] }
  | {
      readonly type: 'bind';
      readonly portal: string;
      readonly statement: string;
      readonly paramFormats: readonly number[];
      readonly params: readonly (Buffer | null)[];
      readonly resultFormats: readonly number[];
    }
  | { readonly type: 'describe'; readonly target: 'S' | 'P'; readonly name: string }
  | { readonly type: 'execute'; readonly portal: string; readonly maxRows: number }
  | { readonly type: 'close'; readonly target: 'S' | 'P'; readonly name: string }
  | { readonly type: 'sync' }
  | { readonly type: 'flush' }
  | { readonly type: 'terminate' }
  | { readonly type: 'password'; readonly body: Buffer }
  | { readonly type: 'unsupported'; readonly what: string };

function target(r: CheckedReader): 'S' | 'P' {
  const t = r.byte();
  if (t !== 0x53 && t !== 0x50) throw new MalformedMessage('describe/close target must be S or P');
  return t === 0x53 ? 'S' : 'P';
}

function int16List(r: CheckedReader, read: () => number): number[] {
  const n = r.int16();
  if (n < 0) throw new MalformedMessage('negative count');
  return Array.from({ length: n }, read);
}

/** Decode one message body; throws MalformedMessage, or returns undefined for an unknown type. */
export function decodeMessage(code: number, body: Buffer): FrontendMessage | undefined {
  const r = new CheckedReader(body);
  let msg: FrontendMessage;
  switch (code) {
    case FrontendCode.query:
      msg = { type: 'query', sql: r.cstring() };
      break;
    case FrontendCode.parse: {
      const name = r.cstring();
      const sql = r.cstring();
      msg = { type: 'parse', name, sql, paramTypes: int16List(r, () => r.int32()) };
      break;
    }
    case FrontendCode.bind: {
      const portal = r.cstring();
      const statement = r.cstring();
      const paramFormats = int16List(r, () => r.int16());
      const params = int16List(r, () => 0).map(() => {
        const len = r.int32();
        return len === -1 ? null : r.bytes(len);
      });
      const resultFormats = int16List(r, () => r.int16());
      msg = { type: 'bind', portal, statement, paramFormats, params, resultFormats };
      break;
    }
    case FrontendCode.describe:
      msg = { type: 'describe', target: target(r), name: r.cstring() };
      break;
    case FrontendCode.execute:
      msg = { type: 'execute', portal: r.cstring(), maxRows: r.int32() };
      break;
    case FrontendCode.close:
      msg = { type: 'close', target: target(r), name: r.cstring() };
      break;
    case FrontendCode.sync:
      msg = { type: 'sync' };
      break;
    case FrontendCode.flush:
      msg = { type: 'flush' };
      break;
    case FrontendCode.terminate:
      msg = { type: 'terminate' };
      break;
    case FrontendCode.password:
      return { type: 'password', body };
    case FrontendCode.copyData:
    case FrontendCode.copyDone:
    case FrontendCode.copyFail:
      return { type: 'unsupported', what: 'COPY' };
    case FrontendCode.functionCall:
      return { type: 'unsupported', what: 'the function call protocol' };
    default:
      return undefined;
  }
  r.done();
  return msg;
}

/** The startup packet's parameters (user, database, options, ...). */
export function decodeStartupParams(body: Buffer): Map<string, string> {
  const r = new CheckedReader(body);
  const params = new Map<string, string>();
  for (;;) {
    const key = r.cstring();
    if (key === '') break;
    params.set(key, r.cstring());
  }
  r.done();
  return params;
}
