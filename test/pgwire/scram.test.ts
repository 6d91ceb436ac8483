/** The SCRAM-SHA-256 server exchange against a client written here from RFC 5802 (not from the server's code). */
import { createHash, createHmac, pbkdf2Sync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ScramExchange, ScramFailure, SCRAM, SCRAM_PLUS, scramMechanisms } from '../../src/pgwire/scram.js';
import { parseScramVerifier, scramSha256Verifier } from '../../src/secrets/scram-verifier.js';

const PASSWORD = 'pencil';
const verifier = parseScramVerifier(scramSha256Verifier(PASSWORD))!;
const CERT_HASH = createHash('sha256').update('a certificate').digest();

/** A client's final message for `serverFirst`, with `gs2` as its header and `binding` as the channel data. */
function clientFinal(password: string, clientFirstBare: string, serverFirst: string, gs2: string, binding: Buffer = Buffer.alloc(0)): { message: string; serverSignature: string } {
  const attrs = Object.fromEntries(serverFirst.split(',').map((kv) => [kv[0], kv.slice(2)]));
  const salted = pbkdf2Sync(password, Buffer.from(attrs.s!, 'base64'), Number(attrs.i), 32, 'sha256');
  const clientKey = createHmac('sha256', salted).update('Client Key').digest();
  const storedKey = createHash('sha256').update(clientKey).digest();
  const withoutProof = `c=${Buffer.concat([Buffer.from(gs2), binding]).toString('base64')},r=${attrs.r}`;
  const authMessage = `${clientFirstBare},${serverFirst},${withoutProof}`;
  const signature = createHmac('sha256', storedKey).update(authMessage).digest();
  const proof = Buffer.from(clientKey.map((b, i) => b ^ signature[i]!));
  const serverKey = createHmac('sha256', salted).update('Server Key').digest();
  return { message: `${withoutProof},p=${proof.toString('base64')}`, serverSignature: `v=${createHmac('sha256', serverKey).update(authMessage).digest('base64')}` };
}

function login(options: { password?: string; tls?: boolean; mechanism?: string; gs2?: string; binding?: Buffer }): string {
  const exchange = new ScramExchange(verifier, options.tls ? CERT_HASH : undefined);
  const gs2 = options.gs2 ?? 'n,,';
  const bare = 'n=,r=rOprNGfwEbeRWgbNEkqO';
  const serverFirst = exchange.start(options.mechanism ?? SCRAM, `${gs2}${bare}`);
  expect(serverFirst).toMatch(/^r=rOprNGfwEbeRWgbNEkqO[A-Za-z0-9+/=]{20,},s=[A-Za-z0-9+/=]+,i=4096$/);
  const { message, serverSignature } = clientFinal(options.password ?? PASSWORD, bare, serverFirst, gs2, options.binding);
  const answer = exchange.finish(message);
  expect(answer).toBe(serverSignature);
  return answer;
}

const failure = (f: () => unknown): { kind: string; message: string } => {
  try {
    f();
  } catch (err) {
    if (err instanceof ScramFailure) return { kind: err.kind, message: err.message };
    throw err;
  }
  throw new Error('expected a SCRAM failure');
};

describe('SCRAM-SHA-256 (RFC 5802, 7677) and channel binding (RFC 5929)', () => {
  it('accepts the right password and answers with the server signature the client checks', () => {
    expect(login({})).toMatch(/^v=/);
  });

  it('refuses a wrong password', () => {
    expect(failure(() => login({ password: 'crayon' }))).toEqual({ kind: 'rejected', message: 'wrong SCRAM proof' });
  });

  it('offers PLUS only on TLS, and binds it to the certificate', () => {
    expect(scramMechanisms(undefined)).toEqual([SCRAM]);
    expect(scramMechanisms(CERT_HASH)).toEqual([SCRAM_PLUS, SCRAM]);
    expect(login({ tls: true, mechanism: SCRAM_PLUS, gs2: 'p=tls-server-end-point,,', binding: CERT_HASH })).toMatch(/^v=/);
    // Another certificate's hash: a man in the middle's.
    const other = createHash('sha256').update('the attacker').digest();
    expect(failure(() => login({ tls: true, mechanism: SCRAM_PLUS, gs2: 'p=tls-server-end-point,,', binding: other }))).toEqual({ kind: 'malformed', message: 'SCRAM channel binding check failed' });
    expect(failure(() => login({ mechanism: SCRAM_PLUS, gs2: 'p=tls-server-end-point,,', binding: CERT_HASH })).kind).toBe('malformed');
  });

  it('refuses a downgrade: "y" (client could bind, thinks the server cannot) on TLS', () => {
    expect(failure(() => login({ tls: true, gs2: 'y,,' }))).toEqual({ kind: 'malformed', message: 'SCRAM channel binding negotiation error' });
    expect(login({ gs2: 'y,,' })).toMatch(/^v=/);
  });

  it('refuses a mechanism and header that do not agree, and malformed messages', () => {
    expect(failure(() => login({ tls: true, mechanism: SCRAM, gs2: 'p=tls-server-end-point,,', binding: CERT_HASH })).kind).toBe('malformed');
    expect(failure(() => new ScramExchange(verifier, undefined).start('SCRAM-SHA-1', 'n,,n=,r=abc')).kind).toBe('malformed');
    expect(failure(() => new ScramExchange(verifier, undefined).start(SCRAM, 'n,,r=abc')).kind).toBe('malformed');
    expect(failure(() => new ScramExchange(verifier, undefined).start(SCRAM, 'garbage')).kind).toBe('malformed');
    const exchange = new ScramExchange(verifier, undefined);
    exchange.start(SCRAM, 'n,,n=,r=abc');
    expect(failure(() => exchange.finish('c=biws,r=abc,p=AAAA')).kind).toBe('malformed'); // not the server's nonce
    expect(failure(() => exchange.finish('nonsense')).kind).toBe('malformed');
  });

  it('refuses a replayed final message in a new exchange (fresh server nonce each time)', () => {
    const first = new ScramExchange(verifier, undefined);
    const bare = 'n=,r=fixedclientnonce';
    const serverFirst = first.start(SCRAM, `n,,${bare}`);
    const { message } = clientFinal(PASSWORD, bare, serverFirst, 'n,,');
    first.finish(message);
    const second = new ScramExchange(verifier, undefined);
    second.start(SCRAM, `n,,${bare}`);
    expect(failure(() => second.finish(message)).kind).toBe('malformed');
  });
});
