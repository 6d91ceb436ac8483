/** Splitting a buffer of backend protocol messages into frames (type byte + int32 length). */

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
