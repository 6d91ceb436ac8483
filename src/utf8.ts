/**
 * Text from a client must be valid UTF-8: PostgreSQL refuses anything else with 22021 rather
 * than storing a replacement character (a secret value would be silently corrupted). One rule
 * for every way text arrives: protocol messages, bind parameters, evaluated secret values.
 */
import { SqlError, SqlState } from './errors.js';

// ignoreBOM: a leading byte-order mark is the client's text, not ours to drop.
const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Decode `bytes`, or throw 22021 naming the first bad bytes (and `where` they came from). */
export function decodeUtf8(bytes: Uint8Array, where?: string): string {
  try {
    return UTF8.decode(bytes);
  } catch {
    const at = firstInvalidUtf8(bytes);
    const shown = [...bytes.subarray(at, at + 2)].map((b) => `0x${b.toString(16).padStart(2, '0')}`).join(' ');
    throw new SqlError(SqlState.characterNotInRepertoire, `invalid byte sequence for encoding "UTF8": ${shown}${where ? ` in ${where}` : ''}`);
  }
}

/** The offset of the first byte that does not begin a valid UTF-8 sequence. */
function firstInvalidUtf8(bytes: Uint8Array): number {
  for (let i = 0; i < bytes.length; ) {
    const b = bytes[i]!;
    const n = b < 0x80 ? 1 : b >= 0xc2 && b < 0xe0 ? 2 : b >= 0xe0 && b < 0xf0 ? 3 : b >= 0xf0 && b < 0xf5 ? 4 : 0;
    if (n === 0 || i + n > bytes.length) return i;
    try {
      UTF8.decode(bytes.subarray(i, i + n));
    } catch {
      return i;
    }
    i += n;
  }
  return 0;
}
