/**
 * SigV4 against AWS's published Signature Version 4 test suite (docs.aws.amazon.com/general/
 * latest/gr/signature-v4-test-suite.html, 2015-08-30 edition; the same vectors ship as
 * suite.fixture in @aws-sdk/signature-v4). Every case signs with the suite's example key at
 * 2015-08-30T12:36:00Z for us-east-1 / "service". botocore's SigV4Auth produces the same
 * signatures for get-vanilla and post-x-www-form-urlencoded.
 */
import { describe, expect, it } from 'vitest';
import {
  canonicalHeaderValue,
  canonicalQuery,
  canonicalRequest,
  canonicalUri,
  constantTimeEqual,
  headersFromRaw,
  MissingSignedHeaderError,
  parseAuthorization,
  requestTime,
  sha256Hex,
  signatureOf,
  signingKey,
  stringToSign,
} from './sigv4.js';

const SECRET = 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY';
const AMZ_DATE = '20150830T123600Z';
const SCOPE = '20150830/us-east-1/service/aws4_request';
const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

interface Vector {
  readonly name: string;
  readonly method: string;
  readonly target: string;
  /** Raw headers as they arrive: name, value, name, value... */
  readonly rawHeaders: string[];
  readonly body?: string;
  readonly authorization: string;
}

/** Verify a vector's Authorization header the way the emulator does; return the pieces. */
function verify(v: Vector): { canonical: string; toSign: string; expected: string; ok: boolean } {
  const auth = parseAuthorization(v.authorization)!;
  const [path, query = ''] = v.target.split('?') as [string, string?];
  const canonical = canonicalRequest({
    method: v.method,
    path,
    query,
    headers: headersFromRaw(v.rawHeaders),
    signedHeaders: auth.signedHeaders,
    payloadHash: sha256Hex(v.body ?? ''),
  });
  const toSign = stringToSign(AMZ_DATE, auth.scope, canonical);
  const expected = signatureOf(signingKey(SECRET, auth.date, auth.region, auth.service), toSign);
  return { canonical, toSign, expected, ok: constantTimeEqual(expected, auth.signature) };
}

const authz = (signedHeaders: string, signature: string): string =>
  `AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/${SCOPE}, SignedHeaders=${signedHeaders}, Signature=${signature}`;
const HOST = ['Host', 'example.amazonaws.com'];
const DATE = ['X-Amz-Date', AMZ_DATE];

const VECTORS: Vector[] = [
  { name: 'get-vanilla', method: 'GET', target: '/', rawHeaders: [...HOST, ...DATE], authorization: authz('host;x-amz-date', '5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31') },
  {
    name: 'post-x-www-form-urlencoded',
    method: 'POST',
    target: '/',
    rawHeaders: ['Content-Type', 'application/x-www-form-urlencoded', ...HOST, ...DATE, 'Content-Length', '13'],
    body: 'Param1=value1',
    authorization: authz('content-type;host;x-amz-date', 'ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a'),
  },
  {
    name: 'get-header-value-trim',
    method: 'GET',
    target: '/',
    rawHeaders: [...HOST, 'My-Header1', ' value1', 'My-Header2', ' "a   b   c"', ...DATE],
    authorization: authz('host;my-header1;my-header2;x-amz-date', 'acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736'),
  },
  {
    name: 'get-header-key-duplicate',
    method: 'GET',
    target: '/',
    rawHeaders: [...HOST, 'My-Header1', 'value2', 'My-Header1', 'value2', 'My-Header1', 'value1', ...DATE],
    authorization: authz('host;my-header1;x-amz-date', 'c9d5ea9f3f72853aea855b47ea873832890dbdd183b4468f858259531a5138ea'),
  },
  {
    name: 'get-vanilla-query-order-key-case',
    method: 'GET',
    target: '/?Param2=value2&Param1=value1',
    rawHeaders: [...HOST, ...DATE],
    authorization: authz('host;x-amz-date', 'b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500'),
  },
  {
    name: 'post-sts-header-before (a signed session token)',
    method: 'POST',
    target: '/',
    rawHeaders: [
      ...HOST,
      ...DATE,
      'X-Amz-Security-Token',
      'AQoDYXdzEPT//////////wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQWLWsKWHGBuFqwAeMicRXmxfpSPfIeoIYRqTflfKD8YUuwthAx7mSEI/qkPpKPi/kMcGdQrmGdeehM4IC1NtBmUpp2wUE8phUZampKsburEDy0KPkyQDYwT7WZ0wq5VSXDvp75YU9HFvlRd8Tx6q6fE8YQcHNVXAkiY9q6d+xo0rKwT38xVqr7ZD0u0iPPkUL64lIZbqBAz+scqKmlzm8FDrypNC9Yjc8fPOLn9FX9KSYvKTr4rvx3iSIlTJabIQwj2ICCR/oLxBA==',
    ],
    authorization: authz('host;x-amz-date;x-amz-security-token', '85d96828115b5dc0cfc3bd16ad9e210dd772bbebba041836c64533a82be05ead'),
  },
  {
    name: 'post-sts-header-after (the token sent but not signed)',
    method: 'POST',
    target: '/',
    rawHeaders: [...HOST, ...DATE, 'X-Amz-Security-Token', 'AQoDYXdzEPT//////////wEXAMPLE'],
    authorization: authz('host;x-amz-date', '5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b'),
  },
];

describe('SigV4 verification against the AWS test suite', () => {
  for (const v of VECTORS) {
    it(v.name, () => {
      const r = verify(v);
      expect(r.expected).toBe(parseAuthorization(v.authorization)!.signature);
      expect(r.ok).toBe(true);
    });
  }

  it('get-vanilla and post-x-www-form-urlencoded: the canonical requests and strings to sign of the suite', () => {
    expect(verify(VECTORS[0]!).canonical).toBe(['GET', '/', '', 'host:example.amazonaws.com', `x-amz-date:${AMZ_DATE}`, '', 'host;x-amz-date', EMPTY_SHA256].join('\n'));
    const post = verify(VECTORS[1]!);
    // Content-Length was sent but not signed: it is not in the canonical request.
    expect(post.canonical).toBe(
      [
        'POST',
        '/',
        '',
        'content-type:application/x-www-form-urlencoded',
        'host:example.amazonaws.com',
        `x-amz-date:${AMZ_DATE}`,
        '',
        'content-type;host;x-amz-date',
        '9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e',
      ].join('\n'),
    );
    expect(post.toSign).toBe(['AWS4-HMAC-SHA256', AMZ_DATE, SCOPE, '42a5e5bb34198acb3e84da4f085bb7927f2bc277ca766e6d19c73c2154021281'].join('\n'));
  });

  it('fails for another body, another signed header list, another header value, another secret', () => {
    const post = VECTORS[1]!;
    expect(verify({ ...post, body: 'Param1=value2' }).ok).toBe(false);
    expect(verify({ ...post, authorization: authz('content-length;content-type;host;x-amz-date', parseAuthorization(post.authorization)!.signature) }).ok).toBe(false);
    expect(verify({ ...post, rawHeaders: ['Content-Type', 'text/plain', ...HOST, ...DATE] }).ok).toBe(false);
    const auth = parseAuthorization(post.authorization)!;
    const canonical = verify(post).canonical;
    expect(signatureOf(signingKey('not the secret', auth.date, auth.region, auth.service), stringToSign(AMZ_DATE, auth.scope, canonical))).not.toBe(auth.signature);
  });

  it('names a signed header that the request does not carry', () => {
    expect(() => verify({ ...VECTORS[0]!, authorization: authz('host;x-amz-content-sha256;x-amz-date', '0'.repeat(64)) })).toThrow(MissingSignedHeaderError);
    expect(() => verify({ ...VECTORS[0]!, authorization: authz('host;x-amz-content-sha256;x-amz-date', '0'.repeat(64)) })).toThrow(/x-amz-content-sha256/);
  });
});

describe('SigV4 pieces', () => {
  it('parses the Authorization header, with or without spaces after the commas', () => {
    const a = parseAuthorization(`AWS4-HMAC-SHA256 Credential=AKIA1/20240101/eu-west-1/sts/aws4_request,SignedHeaders=content-type;host;x-amz-date,Signature=${'ab'.repeat(32)}`);
    expect(a).toEqual({
      accessKeyId: 'AKIA1',
      scope: '20240101/eu-west-1/sts/aws4_request',
      date: '20240101',
      region: 'eu-west-1',
      service: 'sts',
      signedHeaders: ['content-type', 'host', 'x-amz-date'],
      signature: 'ab'.repeat(32),
    });
    for (const bad of [
      '',
      'AWS4-HMAC-SHA1 Credential=A/20240101/r/s/aws4_request, SignedHeaders=host, Signature=' + '0'.repeat(64),
      'AWS4-HMAC-SHA256 Credential=A/2024010/r/s/aws4_request, SignedHeaders=host, Signature=' + '0'.repeat(64),
      'AWS4-HMAC-SHA256 Credential=A/20240101/r/s/aws4_request, SignedHeaders=Host, Signature=' + '0'.repeat(64),
      'AWS4-HMAC-SHA256 Credential=A/20240101/r/s/aws4_request, SignedHeaders=host;, Signature=' + '0'.repeat(64),
      'AWS4-HMAC-SHA256 Credential=A/20240101/r/s/aws4_request, SignedHeaders=host, Signature=' + '0'.repeat(63),
      'AWS4-HMAC-SHA256 Credential=A/20240101/r/s/aws4_request, SignedHeaders=host',
    ]) {
      expect(parseAuthorization(bad)).toBeUndefined();
    }
  });

  it('canonicalises header values, URIs and queries', () => {
    expect(canonicalHeaderValue('  a   b \t c  ')).toBe('a b c');
    expect(canonicalUri('')).toBe('/');
    expect(canonicalUri('/')).toBe('/');
    expect(canonicalUri('/a/./b/../c')).toBe('/a/c');
    expect(canonicalUri('/a%20b')).toBe('/a%2520b'); // non-S3 services encode the path twice
    expect(canonicalQuery('')).toBe('');
    expect(canonicalQuery('b=2&a=1&a=0&c')).toBe('a=0&a=1&b=2&c=');
    expect(canonicalQuery('k=a%20b&s=~*')).toBe('k=a%20b&s=~%2A');
  });

  it('takes the time from X-Amz-Date, else from Date', () => {
    expect(requestTime('20150830T123600Z', 'Mon, 01 Jan 2001 00:00:00 GMT')).toEqual({ amzDate: '20150830T123600Z', time: new Date('2015-08-30T12:36:00Z') });
    expect(requestTime(undefined, 'Sun, 30 Aug 2015 12:36:00 GMT')).toEqual({ amzDate: '20150830T123600Z', time: new Date('2015-08-30T12:36:00Z') });
    expect(requestTime('2015-08-30T12:36:00Z', undefined)).toBeUndefined();
    expect(requestTime(undefined, undefined)).toBeUndefined();
  });

  it('compares in constant time, refusing different lengths', () => {
    expect(constantTimeEqual('ab', 'ab')).toBe(true);
    expect(constantTimeEqual('ab', 'ac')).toBe(false);
    expect(constantTimeEqual('ab', 'abc')).toBe(false);
  });
});
