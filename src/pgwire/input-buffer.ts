/**
 * Bytes received from a client, kept as the chunks they arrived in: a message is copied out
 * once, when it is complete, so a large message costs its size, not its size times its chunks.
 */
export class InputBuffer {
  private chunks: Buffer[] = [];
  private size = 0;

  get length(): number {
    return this.size;
  }

  push(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.size += chunk.length;
  }

  /** A big-endian int32 at `offset`, if that many bytes have arrived. */
  int32At(offset: number): number | undefined {
    if (this.size < offset + 4) return undefined;
    return this.peek(offset + 4).readInt32BE(offset);
  }

  /** The byte at `offset`, if it has arrived. */
  byteAt(offset: number): number | undefined {
    if (this.size <= offset) return undefined;
    return this.peek(offset + 1)[offset];
  }

  /** Remove and return the first `n` bytes (n ≤ length). */
  take(n: number): Buffer {
    const first = this.chunks[0]!;
    let out: Buffer;
    if (first.length >= n) {
      out = first.subarray(0, n);
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
    } else {
      out = Buffer.allocUnsafe(n);
      let at = 0;
      while (at < n) {
        const chunk = this.chunks[0]!;
        const used = Math.min(chunk.length, n - at);
        chunk.copy(out, at, 0, used);
        at += used;
        if (used === chunk.length) this.chunks.shift();
        else this.chunks[0] = chunk.subarray(used);
      }
    }
    this.size -= n;
    return out;
  }

  /** Drop everything (the connection is closing). */
  clear(): void {
    this.chunks = [];
    this.size = 0;
  }

  /** The first `n` bytes without consuming them; joins only the few chunks a header spans. */
  private peek(n: number): Buffer {
    if (this.chunks[0]!.length >= n) return this.chunks[0]!;
    const joined = Buffer.concat(this.chunks);
    this.chunks = [joined];
    return joined;
  }
}
