import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { SqlError, SqlState } from '../errors.js';
import { Redacted } from './redacted.js';

/** What is stored for one secret: never the plaintext (docs/design.md §4). */
export interface SealedSecret {
  readonly keyId: string;
  readonly nonce: Buffer;
  readonly ciphertext: Buffer; // AES-256-GCM output followed by its 16-byte tag
}

const KEY_BYTES = 32;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;

/** AES-256-GCM with a random nonce per secret; the key id is stored beside each value. */
export class SecretCipher {
  readonly keyId: string;
  readonly #key: Buffer;

  constructor(key: Buffer) {
    if (key.length !== KEY_BYTES) throw new Error(`secrets key must be ${KEY_BYTES} bytes, got ${key.length}`);
    this.#key = key;
    this.keyId = createHash('sha256').update(key).digest('hex').slice(0, 16);
  }

  /** `aad` binds a ciphertext to its secret id, so one row's value cannot be moved to another. */
  seal(value: Redacted<string>, aad: string): SealedSecret {
    const nonce = randomBytes(NONCE_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.#key, nonce);
    cipher.setAAD(Buffer.from(aad));
    const body = Buffer.concat([cipher.update(value.reveal(), 'utf8'), cipher.final()]);
    return { keyId: this.keyId, nonce, ciphertext: Buffer.concat([body, cipher.getAuthTag()]) };
  }

  open(sealed: SealedSecret, aad: string): Redacted<string> {
    if (sealed.keyId !== this.keyId) {
      throw new SqlError(SqlState.systemError, 'secret was encrypted with a different key', {
        detail: `The secret's key id is ${sealed.keyId}; the server's key id is ${this.keyId}.`,
        hint: 'Start the server with the --secrets-key-file the secret was written with.',
      });
    }
    const decipher = createDecipheriv('aes-256-gcm', this.#key, sealed.nonce);
    decipher.setAAD(Buffer.from(aad));
    decipher.setAuthTag(sealed.ciphertext.subarray(sealed.ciphertext.length - TAG_BYTES));
    const body = sealed.ciphertext.subarray(0, sealed.ciphertext.length - TAG_BYTES);
    return new Redacted(Buffer.concat([decipher.update(body), decipher.final()]).toString('utf8'));
  }
}

/**
 * Read the key file (64 hex characters or 32 raw bytes). With `create`, a missing file is
 * made with a fresh random key and mode 0600.
 */
export async function loadSecretsKey(path: string, create: boolean): Promise<Buffer> {
  let text: Buffer;
  try {
    text = await readFile(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || !create) throw err;
    const key = randomBytes(KEY_BYTES);
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, key.toString('hex') + '\n', { mode: 0o600, flag: 'wx' });
    await chmod(path, 0o600);
    return key;
  }
  const hex = text.toString('utf8').trim();
  if (/^[0-9a-fA-F]{64}$/.test(hex)) return Buffer.from(hex, 'hex');
  if (text.length === KEY_BYTES) return text;
  throw new Error(`secrets key file ${path} must hold 64 hex characters or 32 bytes`);
}
