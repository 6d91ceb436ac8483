import type { Frame } from '../protocol-frames.js';
import type { ClientRead, ClientReadOptions } from './store.js';

/** Largest answer kept; larger ones are run each time. */
const MAX_ENTRY_BYTES = 256 * 1024;

/**
 * Answers of repeatable client reads (docs/design.md §3, "Reads that repeat"), valid for one
 * catalog version: any catalog write clears them all. Keyed by everything the answer depends on:
 * the client's engine settings (role, search_path, TimeZone, ...), the statement, its parameter
 * types and values, and the result formats asked for. Used only where this process is the
 * catalog's one writer (the embedded store); reads that carry credentials never reach the engine
 * as client reads, so nothing here holds one.
 */
export class AnswerCache {
  private readonly entries = new Map<string, Frame[]>();
  private bytes = 0;

  constructor(private readonly maxBytes: number) {}

  /** The cache key of a read, or undefined if it must run every time. */
  keyOf(read: ClientRead, options: ClientReadOptions): string | undefined {
    if (read.kind === 'describe' || !read.repeatable || options.pending) return undefined;
    if (read.kind === 'query') {
      const l = read.lifted;
      return JSON.stringify([options.settings.key, 'q', l ? [l.text, l.types, l.params] : read.text]);
    }
    const b = read.bind;
    return JSON.stringify([options.settings.key, 'p', read.text, read.paramTypes, b.paramFormats, b.params.map((p) => p?.toString('base64') ?? null), b.resultFormats]);
  }

  get(key: string): Frame[] | undefined {
    const hit = this.entries.get(key);
    if (hit) {
      // Least recently used first out: a hit moves to the back.
      this.entries.delete(key);
      this.entries.set(key, hit);
    }
    return hit;
  }

  /** Keep an answer; answers with an error are not kept (a timeout or cancel is not the query's answer). */
  put(key: string, frames: Frame[]): void {
    const size = frames.reduce((n, f) => n + f.bytes.length, 0);
    if (size > MAX_ENTRY_BYTES || size > this.maxBytes || frames.some((f) => f.type === 'E')) return;
    // The engine's output buffer is reused: keep copies.
    const kept = frames.map((f) => ({ type: f.type, bytes: Buffer.from(f.bytes) }));
    this.entries.set(key, kept);
    this.bytes += size;
    for (const [oldest, answer] of this.entries) {
      if (this.bytes <= this.maxBytes) break;
      this.entries.delete(oldest);
      this.bytes -= answer.reduce((n, f) => n + f.bytes.length, 0);
    }
  }

  /** The catalog changed: nothing kept is valid any more. */
  clear(): void {
    this.entries.clear();
    this.bytes = 0;
  }
}
