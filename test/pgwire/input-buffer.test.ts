/**
 * InputBuffer: bytes from a client kept as the chunks they arrived in. Messages split across
 * chunks in any way come out intact and in order, and a large message arriving in many chunks
 * is copied once, not once per chunk (the old strategy re-concatenated the whole input on
 * every chunk: quadratic in the number of chunks).
 */
import { serialize } from 'pg-protocol';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { InputBuffer } from '../../src/pgwire/input-buffer.js';
import { seededRandom } from '../support/random.js';

const KiB = 1024;

/**
 * What the connection does after every chunk: peek at the type byte and the length, and take
 * every complete message out. Returns the messages taken (type byte, length and body).
 */
function drain(input: InputBuffer): Buffer[] {
  const out: Buffer[] = [];
  for (;;) {
    const code = input.byteAt(0);
    const len = input.int32At(1);
    if (code === undefined || len === undefined) return out;
    if (input.length < len + 1) return out;
    out.push(input.take(len + 1));
  }
}

/** Split `bytes` into chunks of the given sizes (the last one takes the rest). */
function split(bytes: Buffer, sizes: (i: number) => number): Buffer[] {
  const chunks: Buffer[] = [];
  for (let at = 0, i = 0; at < bytes.length; i++) {
    const n = Math.max(1, sizes(i));
    // Copies, so that no chunk shares memory with another or with `bytes`.
    chunks.push(Buffer.from(bytes.subarray(at, at + n)));
    at += n;
  }
  return chunks;
}

/** A frontend message of the given type with a deterministic body of `bodyBytes` bytes. */
function message(type: string, bodyBytes: number, seed: number): Buffer {
  const m = Buffer.allocUnsafe(5 + bodyBytes);
  m.write(type, 0, 'latin1');
  m.writeInt32BE(4 + bodyBytes, 1);
  for (let i = 0; i < bodyBytes; i++) m[5 + i] = (i * 31 + seed * 7) & 0xff;
  return m;
}

function feed(chunks: Buffer[]): Buffer[] {
  const input = new InputBuffer();
  const out: Buffer[] = [];
  for (const chunk of chunks) {
    input.push(chunk);
    out.push(...drain(input));
  }
  expect(input.length).toBe(0);
  return out;
}

/** Compare with Buffer#equals (a deep toEqual over large Buffers is slow). */
function expectMessages(actual: Buffer[], expected: Buffer[], what = ''): void {
  expect(actual.length, `${what} message count`).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    if (!actual[i]!.equals(expected[i]!)) expect.fail(`${what} message ${i} differs: got ${actual[i]!.subarray(0, 16).toString('hex')}…, expected ${expected[i]!.subarray(0, 16).toString('hex')}…`);
  }
}

const sampleMessages = (): Buffer[] => [
  serialize.query('SELECT 1'),
  serialize.parse({ name: 's1', text: 'SELECT $1::int', types: [23] }),
  serialize.bind({ statement: 's1', values: ['42'] }),
  serialize.describe({ type: 'P' }),
  serialize.execute({}),
  serialize.sync(),
  message('Q', 0, 1),
  message('Q', 1, 2),
  message('Q', 3, 3),
  message('Q', 4, 4),
  serialize.query("SELECT 'é, ß, 日本'"),
  message('d', 5000, 5),
  serialize.flush(),
];

describe('InputBuffer', () => {
  it('peeks nothing before the bytes have arrived', () => {
    const input = new InputBuffer();
    expect(input.length).toBe(0);
    expect(input.byteAt(0)).toBeUndefined();
    expect(input.int32At(0)).toBeUndefined();
    input.push(Buffer.from([0x51, 0, 0]));
    expect(input.byteAt(0)).toBe(0x51);
    expect(input.byteAt(2)).toBe(0);
    expect(input.byteAt(3)).toBeUndefined();
    expect(input.int32At(1)).toBeUndefined();
    input.push(Buffer.from([1]));
    expect(input.int32At(0)).toBe(0x51000001);
    expect(input.int32At(1)).toBeUndefined();
    input.push(Buffer.from([2, 0xff]));
    expect(input.int32At(1)).toBe(0x00000102);
    expect(input.length).toBe(6);
  });

  it('takes messages that arrive one byte at a time, intact and in order', () => {
    const messages = sampleMessages();
    const all = Buffer.concat(messages);
    const out = feed(split(all, () => 1));
    expectMessages(out, messages);
  });

  it('takes a message whose header is split across chunks, at every split point', () => {
    const messages = [serialize.query('SELECT 1'), serialize.query('SELECT 2'), message('Q', 70_000, 9)];
    const all = Buffer.concat(messages);
    for (let cut = 1; cut < 12; cut++) {
      // The first `cut` bytes, then one byte, then the rest in 3-byte and then 1000-byte chunks.
      const chunks = [Buffer.from(all.subarray(0, cut)), Buffer.from(all.subarray(cut, cut + 1)), ...split(all.subarray(cut + 1), (i) => (i < 5 ? 3 : 1000))];
      expect(Buffer.concat(chunks).equals(all)).toBe(true);
      expectMessages(feed(chunks), messages);
    }
  });

  it('takes several messages that arrive in one chunk, and leaves a partial one for later', () => {
    const messages = sampleMessages();
    const all = Buffer.concat(messages);
    const input = new InputBuffer();
    input.push(Buffer.from(all.subarray(0, all.length - 3)));
    const first = drain(input);
    expectMessages(first, messages.slice(0, -1));
    expect(input.length).toBe(messages.at(-1)!.length - 3);
    input.push(Buffer.from(all.subarray(all.length - 3)));
    expectMessages(drain(input), messages.slice(-1));
    expect(input.length).toBe(0);
  });

  it('takes a message that ends in the middle of a chunk, with the next header spanning chunks', () => {
    const a = message('Q', 100, 1);
    const b = message('P', 200, 2);
    const c = message('B', 300, 3);
    const all = Buffer.concat([a, b, c]);
    // a and the first 2 bytes of b; 2 more bytes of b's header; the rest.
    const chunks = [all.subarray(0, a.length + 2), all.subarray(a.length + 2, a.length + 4), all.subarray(a.length + 4)].map((x) => Buffer.from(x));
    expectMessages(feed(chunks), [a, b, c]);
  });

  it('keeps messages already taken unchanged while more input arrives', () => {
    const input = new InputBuffer();
    const a = message('Q', 10, 1);
    const b = message('Q', 10, 2);
    input.push(Buffer.concat([a, b.subarray(0, 4)]));
    const [takenA] = drain(input);
    const snapshot = Buffer.from(takenA!);
    input.push(b.subarray(4));
    const [takenB] = drain(input);
    expect(takenA).toEqual(snapshot);
    expect(takenA).toEqual(a);
    expect(takenB).toEqual(b);
  });

  it('takes thousands of messages split at random points intact and in order (seeded)', () => {
    for (const seed of [1, 2, 3, 4, 5]) {
      const rand = seededRandom(seed);
      const maxChunk = [1, 7, 64, 4096, 70_000][seed - 1]!;
      // Some messages far larger than a chunk (bounded so that one-byte chunks stay quick).
      const bigBody = Math.min(100_000, maxChunk * 50);
      const messages = Array.from({ length: 2000 }, (_, i) => message('Q', Math.floor(rand() < 0.05 ? rand() * bigBody : rand() * 40), i));
      const all = Buffer.concat(messages);
      const chunks = split(all, () => 1 + Math.floor(rand() * maxChunk));
      const out = feed(chunks);
      expect(out.length, `seed ${seed}`).toBe(messages.length);
      expect(Buffer.concat(out).equals(all), `seed ${seed}`).toBe(true);
      for (let i = 0; i < messages.length; i++) {
        if (!out[i]!.equals(messages[i]!)) expect.fail(`seed ${seed}: message ${i} differs`);
      }
    }
  });

  it('clear() drops everything', () => {
    const input = new InputBuffer();
    input.push(message('Q', 100, 1).subarray(0, 50));
    input.clear();
    expect(input.length).toBe(0);
    expect(input.byteAt(0)).toBeUndefined();
    const m = message('Q', 3, 2);
    input.push(m);
    expectMessages(drain(input), [m]);
  });
});

describe('InputBuffer copies a large message once, however many chunks it arrives in', () => {
  /**
   * Counts the bytes every way of copying Buffer contents moves: Buffer.concat (the bytes it
   * was asked to join), Buffer#copy (the bytes it copied) and Uint8Array#set (the bytes set).
   * Buffer.concat does not go through the other two in Node 20, so nothing is counted twice.
   */
  interface Moved {
    concat: number;
    copy: number;
    set: number;
    total: number;
  }
  /** Start counting; `stop()` restores the originals and returns what was moved meanwhile. */
  function countCopies(): { stop(): Moved } {
    const concat = vi.spyOn(Buffer, 'concat');
    const copy = vi.spyOn(Buffer.prototype, 'copy');
    const set = vi.spyOn(Uint8Array.prototype, 'set');
    return {
      stop: () => {
        // Read the records before restoring: mockRestore() clears them.
        const c = concat.mock.calls.reduce((sum, [list, total]) => sum + (total ?? list.reduce((s, b) => s + b.length, 0)), 0);
        const p = copy.mock.results.reduce((sum, r) => sum + (r.type === 'return' ? (r.value as number) : 0), 0);
        const s = set.mock.calls.reduce((sum, [source]) => sum + ((source as ArrayLike<number>).length ?? 0), 0);
        concat.mockRestore();
        copy.mockRestore();
        set.mockRestore();
        return { concat: c, copy: p, set: s, total: c + p + s };
      },
    };
  }

  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('the counting catches the old strategy (re-concatenating the whole input on every chunk)', () => {
    // Self-check of the harness on 64 chunks (the real 512 would move ~8.6 GB).
    const chunks = Array.from({ length: 64 }, (_, i) => Buffer.alloc(64 * KiB, i));
    const counter = countCopies();
    let input = Buffer.alloc(0);
    for (const chunk of chunks) input = input.length ? Buffer.concat([input, chunk]) : chunk;
    const moved = counter.stop();
    expect(input.length).toBe(64 * 64 * KiB);
    expect(moved.concat).toBe(((64 * 65) / 2 - 1) * 64 * KiB);
  });

  const CHUNK = 64 * KiB;
  const CHUNKS = 512;
  const TOTAL = CHUNK * CHUNKS; // 32 MiB, header included
  /** One 'Q' message of exactly 32 MiB, header included, with a position-dependent body. */
  function bigMessage(): Buffer {
    const m = Buffer.allocUnsafe(TOTAL);
    m.write('Q', 0, 'latin1');
    m.writeInt32BE(TOTAL - 1, 1);
    for (let i = 5; i < TOTAL; i += 4) m.writeUInt32LE((i * 2654435761) >>> 0, Math.min(i, TOTAL - 4));
    return m;
  }

  it('a 32 MiB message pushed as 512 chunks of 64 KiB, peeked after every chunk, is copied exactly once', { timeout: 60_000 }, () => {
    const big = bigMessage();
    const chunks = split(big, () => CHUNK);
    expect(chunks.length).toBe(CHUNKS);
    const input = new InputBuffer();
    let moved: Moved;
    const counter = countCopies();
    let taken: Buffer[] = [];
    let peeks = 0;
    try {
      for (const chunk of chunks) {
        input.push(chunk);
        // What the connection does after each chunk: peek the header, find the message incomplete.
        expect(input.byteAt(0)).toBe(0x51);
        expect(input.int32At(1)).toBe(TOTAL - 1);
        peeks++;
        taken = taken.concat(drain(input));
      }
    } finally {
      moved = counter.stop();
    }
    expect(peeks).toBe(CHUNKS);
    expect(taken.length).toBe(1);
    expect(taken[0]!.length).toBe(TOTAL);
    expect(taken[0]!.equals(big)).toBe(true);
    expect(input.length).toBe(0);
    // The header lies in the first chunk: peeking never joins anything, and the message is
    // copied out once. Re-concatenating the input on every chunk would move ~8.6 GB here.
    expect(moved.concat).toBe(0);
    expect(moved.total).toBe(TOTAL);
  });

  it('with the header split across the first chunks, peeks join only those, and the message is still copied once', { timeout: 60_000 }, () => {
    const big = bigMessage();
    // 3 bytes (type and half the length), then 64 KiB chunks.
    const chunks = [Buffer.from(big.subarray(0, 3)), ...split(big.subarray(3), () => CHUNK)];
    const input = new InputBuffer();
    let moved: Moved;
    const counter = countCopies();
    const taken: Buffer[] = [];
    try {
      for (const chunk of chunks) {
        input.push(chunk);
        taken.push(...drain(input));
      }
    } finally {
      moved = counter.stop();
    }
    expect(taken.length).toBe(1);
    expect(taken[0]!.equals(big)).toBe(true);
    // One join of the 3-byte chunk with the next one (to read the length), then one copy out.
    expect(moved.concat).toBeLessThanOrEqual(3 + CHUNK);
    expect(moved.total).toBeLessThanOrEqual(TOTAL + 3 + CHUNK);
  });

  it('one-byte header chunks followed by 512 large chunks still cost one copy', { timeout: 60_000 }, () => {
    const big = bigMessage();
    const chunks = [...split(big.subarray(0, 5), () => 1), ...split(big.subarray(5), () => CHUNK)];
    const input = new InputBuffer();
    let moved: Moved;
    const counter = countCopies();
    const taken: Buffer[] = [];
    try {
      for (const chunk of chunks) {
        input.push(chunk);
        taken.push(...drain(input));
      }
    } finally {
      moved = counter.stop();
    }
    expect(taken.length).toBe(1);
    expect(taken[0]!.equals(big)).toBe(true);
    expect(moved.concat).toBeLessThanOrEqual(64);
    expect(moved.total).toBeLessThanOrEqual(TOTAL + 64);
  });

  it('chunks queued while the connection was busy, then a message whose header straddles them, cost about one copy', { timeout: 60_000 }, () => {
    // A small message, then the big one starting in the same chunk (its header split), then
    // 511 chunks that arrive while nobody peeks (the connection is awaiting the engine).
    const small = message('Q', 20, 1);
    const big = bigMessage();
    const all = Buffer.concat([small, big]);
    const chunks = [Buffer.from(all.subarray(0, small.length + 2)), ...split(all.subarray(small.length + 2), () => CHUNK)];
    const input = new InputBuffer();
    let moved: Moved;
    const counter = countCopies();
    let taken: Buffer[];
    try {
      for (const chunk of chunks) input.push(chunk);
      taken = drain(input);
    } finally {
      moved = counter.stop();
    }
    expect(taken.length).toBe(2);
    expect(taken[0]!.equals(small)).toBe(true);
    expect(taken[1]!.equals(big)).toBe(true);
    expect(moved.total).toBeLessThanOrEqual(all.length + CHUNK);
  });

  it('many small messages arriving in many chunks are not re-joined over and over', { timeout: 60_000 }, () => {
    // 64 KiB chunks each holding many small messages, the last one cut across the chunk end.
    const messages = Array.from({ length: 200_000 }, (_, i) => message('Q', 150 + (i % 50), i));
    const all = Buffer.concat(messages);
    const chunks = split(all, () => CHUNK);
    const input = new InputBuffer();
    let moved: Moved;
    const counter = countCopies();
    const taken: Buffer[] = [];
    try {
      for (const chunk of chunks) {
        input.push(chunk);
        taken.push(...drain(input));
      }
    } finally {
      moved = counter.stop();
    }
    expect(taken.length).toBe(messages.length);
    expect(Buffer.concat(taken).equals(all)).toBe(true);
    // Only messages or headers spanning a chunk boundary are copied/joined: a bounded amount
    // per chunk, never the whole input again.
    expect(moved.total).toBeLessThanOrEqual(chunks.length * (CHUNK + 512));
    expect(moved.total).toBeLessThan(all.length * 2);
  });
});
