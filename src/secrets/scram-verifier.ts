import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';
import type { Redacted } from './redacted.js';

/** PostgreSQL's default iteration count for SCRAM-SHA-256 verifiers. */
const ITERATIONS = 4096;

/**
 * A SCRAM-SHA-256 verifier in PostgreSQL's stored form (RFC 5802/7677):
 * `SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>`. Given to `CREATE ROLE ... PASSWORD`,
 * PostgreSQL keeps it as is, so the password itself never travels in a statement (nor reaches a
 * server log that records statements).
 */
export function scramSha256Verifier(password: string, salt: Buffer = randomBytes(16), iterations = ITERATIONS): string {
  const salted = pbkdf2Sync(saslPrep(password), salt, iterations, 32, 'sha256');
  const clientKey = createHmac('sha256', salted).update('Client Key').digest();
  const storedKey = createHash('sha256').update(clientKey).digest();
  const serverKey = createHmac('sha256', salted).update('Server Key').digest();
  return `SCRAM-SHA-256$${iterations}:${salt.toString('base64')}$${storedKey.toString('base64')}:${serverKey.toString('base64')}`;
}

/** A stored SCRAM-SHA-256 verifier's parts. */
export interface ScramVerifier {
  readonly iterations: number;
  readonly salt: Buffer;
  readonly storedKey: Buffer;
  readonly serverKey: Buffer;
}

/** Parse PostgreSQL's stored form; undefined if it is not one. */
export function parseScramVerifier(text: string): ScramVerifier | undefined {
  const m = /^SCRAM-SHA-256\$(\d+):([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+):([A-Za-z0-9+/=]+)$/.exec(text);
  if (!m) return undefined;
  const [storedKey, serverKey] = [Buffer.from(m[3]!, 'base64'), Buffer.from(m[4]!, 'base64')];
  if (storedKey.length !== 32 || serverKey.length !== 32) return undefined;
  return { iterations: Number(m[1]), salt: Buffer.from(m[2]!, 'base64'), storedKey, serverKey };
}

/**
 * SASLprep (RFC 4013) as PostgreSQL's pg_saslprep applies it before hashing, so that a password
 * typed into libpq gives the same key: non-ASCII spaces become spaces, characters "commonly
 * mapped to nothing" are removed, then NFKC. A password with prohibited characters (controls,
 * private use, ...) is used as it is, as PostgreSQL does.
 */
export function saslPrep(password: string): string {
  const mapped = password
    .replace(/[\u00A0\u1680\u2000-\u200B\u202F\u205F\u3000]/g, ' ')
    .replace(/[\u00AD\u034F\u1806\u180B-\u180D\u200B-\u200D\u2060\uFE00-\uFE0F\uFEFF]/g, '')
    .normalize('NFKC');
  // eslint-disable-next-line no-control-regex
  return /[\u0000-\u001F\u007F-\u009F\uE000-\uF8FF\uFFF9-\uFFFD\u0340\u0341\u200E\u200F\u202A-\u202E\u206A-\u206F]/.test(mapped) ? password : mapped;
}

/** Whether `password` is the one `stored` was made from. */
export function verifierMatches(stored: string, password: Redacted<string>): boolean {
  const v = parseScramVerifier(stored);
  return v !== undefined && scramSha256Verifier(password.reveal(), v.salt, v.iterations) === stored;
}

/** The verifier of a password that must not be printed (a bootstrap password). */
export function verifierOf(password: Redacted<string>): string {
  return scramSha256Verifier(password.reveal());
}

/** A password as a role stores it: its verifier; one given already as a verifier is kept, as PostgreSQL does. */
export function storedVerifierOf(password: Redacted<string>): string {
  const given = password.reveal();
  return parseScramVerifier(given) ? given : scramSha256Verifier(given);
}

/**
 * A verifier no password matches, the same for a user name every time (a per-process key): a
 * login name without a password gets the same exchange as one with, so that neither the answer
 * nor its timing tells whether the user exists.
 */
export function mockScramVerifier(user: string, key: Buffer): ScramVerifier {
  const derive = (label: string) => createHmac('sha256', key).update(`${label}\0${user}`).digest();
  return { iterations: 4096, salt: derive('salt').subarray(0, 16), storedKey: derive('stored'), serverKey: derive('server') };
}
