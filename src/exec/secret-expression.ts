/**
 * A secret's value written as an expression (Materialize: "any expression implicitly castable
 * to bytea that references no relation", e.g. decode('c2VjcmV0Cg==', 'base64')). It is
 * evaluated by the engine as the client — through the read-only gate, under the client's own
 * engine role — never as the system. Secrets are text here: the bytes must be UTF-8.
 */
import { SqlError, SqlState, type SqlStateCode } from '../errors.js';
import type { Frame } from '../protocol-frames.js';
import { tokenize } from '../sql/lexer.js';
import { decodeUtf8 } from '../utf8.js';
import { gateStatement } from './query-gate.js';

/** Words that would bring a relation into the expression. */
const RELATIONAL = new Set(['select', 'from', 'table', 'values', 'with']);

/** Evaluate `sql` (at `pos` in the statement) with `read`, a client read of one statement. */
export async function evaluateSecretExpression(sql: string, pos: number, read: (text: string) => Promise<Frame[]>): Promise<string> {
  const word = tokenize(sql).find((t) => t.kind === 'word' && RELATIONAL.has(t.value));
  if (word) {
    throw new SqlError(SqlState.featureNotSupported, 'a secret value may not reference relations', {
      position: pos + word.start,
      hint: "Write the value as a string, an expression such as decode('...', 'base64'), or a $1 parameter.",
    });
  }
  const prefix = 'SELECT (';
  let text: string;
  try {
    const gated = gateStatement(`${prefix}${sql})::bytea`);
    if (gated.kind !== 'read') throw new SqlError(SqlState.syntaxError, 'a secret value must be an expression');
    text = gated.text;
  } catch (err) {
    throw err instanceof SqlError ? err.shifted(pos - prefix.length) : err;
  }
  for (const frame of await read(text)) {
    if (frame.type === 'E') throw engineError(frame.bytes);
    if (frame.type === 'D') return decodeValue(frame.bytes);
  }
  throw new SqlError(SqlState.syntaxError, 'a secret value must be an expression');
}

/** The single column of a DataRow: bytea in hex output (\x...), decoded to UTF-8 text. */
function decodeValue(row: Buffer): string {
  const length = row.readInt32BE(7);
  if (length < 0) throw new SqlError(SqlState.nullValueNotAllowed, 'secret value must not be NULL');
  const hex = row.toString('latin1', 11, 11 + length);
  try {
    return decodeUtf8(Buffer.from(hex.replace(/^\\x/, ''), 'hex'), 'the secret value');
  } catch (err) {
    const e = err as SqlError;
    throw new SqlError(e.code, e.message, { hint: 'iamlink keeps secrets as text: encode binary values, e.g. as base64, before storing them.' });
  }
}

/** The engine's ErrorResponse as a SqlError: its code and message (never the statement). */
function engineError(frame: Buffer): SqlError {
  const fields = new Map<string, string>();
  for (let at = 5; at < frame.length && frame[at] !== 0; ) {
    const end = frame.indexOf(0, at + 1);
    fields.set(String.fromCharCode(frame[at]!), frame.toString('utf8', at + 1, end));
    at = end + 1;
  }
  return new SqlError((fields.get('C') ?? SqlState.invalidParameterValue) as SqlStateCode, `invalid secret value: ${fields.get('M') ?? 'error'}`);
}
