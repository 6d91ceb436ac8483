/** Splitting a buffer of backend protocol messages into frames (type byte + int32 length). */
import { Writer } from 'pg-protocol/dist/buffer-writer.js';

export interface Frame {
  readonly type: string;
  /** The whole message: type byte, length and body. */
  readonly bytes: Buffer;
}

export function splitFrames(buf: Buffer): Frame[] {
  const frames: Frame[] = [];
  let off = 0;
  while (off + 5 <= buf.length) {
    const len = buf.readInt32BE(off + 1);
    const end = off + 1 + len;
    if (len < 4 || end > buf.length) throw new Error('truncated backend message from engine');
    frames.push({ type: String.fromCharCode(buf[off]!), bytes: buf.subarray(off, end) });
    off = end;
  }
  if (off !== buf.length) throw new Error('trailing bytes in engine output');
  return frames;
}

/** The engine's answer to client messages as frames, without the closing ReadyForQuery (the session sends its own). */
export function framesBeforeReady(out: Buffer): Frame[] {
  const frames = splitFrames(out);
  if (frames.pop()?.type !== 'Z') throw new Error('engine answer did not end with ReadyForQuery');
  return frames;
}

/** A client's Bind values, passed to the engine byte for byte. */
export interface BindValues {
  readonly paramFormats: readonly number[];
  readonly params: readonly (Buffer | null)[];
  readonly resultFormats: readonly number[];
}

const BIND = 0x42; // 'B'

/** A Bind of the unnamed portal to `statement` with a client's values, bytes unchanged. */
export function encodeBind(statement: string, b: BindValues): Buffer {
  const w = new Writer().addCString('').addCString(statement);
  w.addInt16(b.paramFormats.length);
  for (const f of b.paramFormats) w.addInt16(f);
  w.addInt16(b.params.length);
  for (const p of b.params) {
    if (p === null) w.addInt32(-1);
    else w.addInt32(p.length).add(p);
  }
  w.addInt16(b.resultFormats.length);
  for (const f of b.resultFormats) w.addInt16(f);
  return w.flush(BIND);
}
