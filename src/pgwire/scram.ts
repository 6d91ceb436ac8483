/**
 * The server side of SCRAM-SHA-256 (RFC 5802, RFC 7677) as PostgreSQL speaks it, with channel
 * binding `tls-server-end-point` (RFC 5929) on TLS: the SCRAM-SHA-256-PLUS mechanism binds the
 * exchange to the server certificate the client saw, so a man in the middle who terminates TLS
 * cannot relay it. Only verifiers are stored; the password never reaches the server.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { ScramVerifier } from '../secrets/scram-verifier.js';

export const SCRAM = 'SCRAM-SHA-256';
export const SCRAM_PLUS = 'SCRAM-SHA-256-PLUS';

/** Why an exchange failed: `malformed` is a protocol error, `rejected` a wrong password (or user). */
export class ScramFailure extends Error {
  constructor(
    readonly kind: 'malformed' | 'rejected',
    message: string,
  ) {
    super(message);
  }
}

/** The mechanisms to offer: PLUS first when the session is on TLS (a certificate hash to bind). */
export function scramMechanisms(certificateHash: Buffer | undefined): string[] {
  return certificateHash ? [SCRAM_PLUS, SCRAM] : [SCRAM];
}

/**
 * Signature algorithms (OIDs) → the hash RFC 5929 §4.1 binds with: the certificate's own
 * signature hash, SHA-256 for MD5 and SHA-1 ones (as libpq and PostgreSQL do).
 */
const SIGNATURE_HASHES: Record<string, string> = {
  '1.2.840.113549.1.1.4': 'sha256', // md5WithRSAEncryption
  '1.2.840.113549.1.1.5': 'sha256', // sha1WithRSAEncryption
  '1.2.840.113549.1.1.11': 'sha256',
  '1.2.840.113549.1.1.12': 'sha384',
  '1.2.840.113549.1.1.13': 'sha512',
  '1.2.840.10045.4.1': 'sha256', // ecdsa-with-SHA1
  '1.2.840.10045.4.3.2': 'sha256',
  '1.2.840.10045.4.3.3': 'sha384',
  '1.2.840.10045.4.3.4': 'sha512',
};

/**
 * The `tls-server-end-point` channel binding data: the server certificate hashed with its own
 * signature's hash; undefined when that is not one RFC 5929 defines (Ed25519, RSA-PSS): then
 * SCRAM-SHA-256-PLUS is not offered.
 */
export function certificateHash(der: Buffer): Buffer | undefined {
  const algorithm = SIGNATURE_HASHES[signatureAlgorithmOf(der) ?? ''];
  return algorithm ? createHash(algorithm).update(der).digest() : undefined;
}

/** The signatureAlgorithm OID of a DER certificate: SEQUENCE { tbsCertificate, SEQUENCE { OID, ... }, BIT STRING }. */
function signatureAlgorithmOf(der: Buffer): string | undefined {
  // One DER element at `at`: its tag, where its content starts and ends.
  const element = (at: number): { tag: number; start: number; end: number } | undefined => {
    if (at + 2 > der.length) return undefined;
    let length = der[at + 1]!;
    let start = at + 2;
    if (length & 0x80) {
      const bytes = length & 0x7f;
      if (bytes === 0 || bytes > 4 || start + bytes > der.length) return undefined;
      length = 0;
      for (let i = 0; i < bytes; i++) length = length * 256 + der[start + i]!;
      start += bytes;
    }
    return start + length <= der.length ? { tag: der[at]!, start, end: start + length } : undefined;
  };
  const certificate = element(0);
  const tbs = certificate && element(certificate.start);
  const algorithm = tbs && element(tbs.end);
  const oid = algorithm && element(algorithm.start);
  if (!oid || oid.tag !== 0x06) return undefined;
  const bytes = der.subarray(oid.start, oid.end);
  const parts = [Math.floor(bytes[0]! / 40), bytes[0]! % 40];
  let value = 0;
  for (const b of bytes.subarray(1)) {
    value = value * 128 + (b & 0x7f);
    if (!(b & 0x80)) {
      parts.push(value);
      value = 0;
    }
  }
  return parts.join('.');
}

const hmac = (key: Buffer, text: string): Buffer => createHmac('sha256', key).update(text).digest();

/** One exchange: `start` with the client's first message, `finish` with its final one. */
export class ScramExchange {
  private clientFirstBare = '';
  private serverFirst = '';
  private nonce = '';
  private gs2Header = '';

  constructor(
    private readonly verifier: ScramVerifier,
    /** The certificate hash when on TLS; PLUS is only valid then. */
    private readonly certificateHash: Buffer | undefined,
  ) {}

  /** SASLInitialResponse → the server-first-message. */
  start(mechanism: string, clientFirst: string): string {
    if (mechanism !== SCRAM && !(mechanism === SCRAM_PLUS && this.certificateHash)) {
      throw new ScramFailure('malformed', `SASL authentication mechanism ${mechanism} is not supported`);
    }
    const m = /^((p=tls-server-end-point|y|n),(a=[^,]*)?,)(.*)$/.exec(clientFirst);
    if (!m) throw new ScramFailure('malformed', 'malformed SCRAM message (the client-first-message)');
    const [, header, flag, , bare] = m;
    if ((mechanism === SCRAM_PLUS) !== (flag === 'p=tls-server-end-point')) {
      throw new ScramFailure('malformed', 'channel binding does not match the SASL mechanism');
    }
    // "y": the client could bind but thinks the server cannot. On TLS we offered PLUS, so someone
    // removed it on the way: a downgrade (RFC 5802 §6).
    if (flag === 'y' && this.certificateHash) throw new ScramFailure('malformed', 'SCRAM channel binding negotiation error');
    const clientNonce = /(?:^|,)r=([^,]+)/.exec(bare!)?.[1];
    if (!clientNonce || !/^n=[^,]*,r=/.test(bare!)) throw new ScramFailure('malformed', 'malformed SCRAM message (the client-first-message)');
    this.gs2Header = header!;
    this.clientFirstBare = bare!;
    this.nonce = clientNonce + randomBytes(18).toString('base64');
    this.serverFirst = `r=${this.nonce},s=${this.verifier.salt.toString('base64')},i=${this.verifier.iterations}`;
    return this.serverFirst;
  }

  /** SASLResponse → the server-final-message; throws ScramFailure('rejected') for a wrong proof. */
  finish(clientFinal: string): string {
    const m = /^c=([^,]*),r=([^,]*)(?:,.*)?,p=([A-Za-z0-9+/=]+)$/.exec(clientFinal);
    if (!m) throw new ScramFailure('malformed', 'malformed SCRAM message (the client-final-message)');
    const [, binding, nonce, proofText] = m;
    const expectedBinding = Buffer.concat([Buffer.from(this.gs2Header), this.gs2Header.startsWith('p=') ? this.certificateHash! : Buffer.alloc(0)]);
    if (binding !== expectedBinding.toString('base64')) throw new ScramFailure('malformed', 'SCRAM channel binding check failed');
    if (nonce !== this.nonce) throw new ScramFailure('malformed', 'SCRAM nonce mismatch');
    const withoutProof = clientFinal.slice(0, clientFinal.lastIndexOf(',p='));
    const authMessage = `${this.clientFirstBare},${this.serverFirst},${withoutProof}`;
    const proof = Buffer.from(proofText!, 'base64');
    const signature = hmac(this.verifier.storedKey, authMessage);
    if (proof.length !== signature.length) throw new ScramFailure('rejected', 'wrong SCRAM proof');
    const clientKey = Buffer.alloc(proof.length);
    for (let i = 0; i < proof.length; i++) clientKey[i] = proof[i]! ^ signature[i]!;
    if (!timingSafeEqual(createHash('sha256').update(clientKey).digest(), this.verifier.storedKey)) {
      throw new ScramFailure('rejected', 'wrong SCRAM proof');
    }
    return `v=${hmac(this.verifier.serverKey, authMessage).toString('base64')}`;
  }
}
