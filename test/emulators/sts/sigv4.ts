/**
 * AWS Signature Version 4, verifier's side: rebuild the canonical request from exactly the
 * headers the client listed in SignedHeaders, hash the body ourselves, and compare signatures
 * in constant time. https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html
 *
 * Only the Authorization-header form; presigned URLs (X-Amz-Signature in the query) are not
 * handled here.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

export const ALGORITHM = 'AWS4-HMAC-SHA256';

export interface ParsedAuthorization {
  readonly accessKeyId: string;
  /** The credential scope: YYYYMMDD/region/service/aws4_request. */
  readonly scope: string;
  readonly date: string;
  readonly region: string;
  readonly service: string;
  /** Lowercase header names, in the order the client listed them. */
  readonly signedHeaders: readonly string[];
  /** 64 lowercase hex digits. */
  readonly signature: string;
}

/**
 * `AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/sts/aws4_request, SignedHeaders=host;x-amz-date, Signature=<hex>`;
 * undefined when it is not that shape.
 */
export function parseAuthorization(header: string): ParsedAuthorization | undefined {
  const m = /^AWS4-HMAC-SHA256\s+(.*)$/s.exec(header.trim());
  if (!m) return undefined;
  const fields = new Map<string, string>();
  for (const part of m[1]!.split(',')) {
    const eq = part.indexOf('=');
    if (eq < 0) return undefined;
    const name = part.slice(0, eq).trim();
    if (fields.has(name)) return undefined;
    fields.set(name, part.slice(eq + 1).trim());
  }
  const credential = /^([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request$/.exec(fields.get('Credential') ?? '');
  const signedHeaders = fields.get('SignedHeaders') ?? '';
  const signature = fields.get('Signature') ?? '';
  if (!credential || !/^[a-z0-9!#$%&'*+.^_`|~-]+(;[a-z0-9!#$%&'*+.^_`|~-]+)*$/.test(signedHeaders) || !/^[0-9a-f]{64}$/.test(signature)) return undefined;
  const [, accessKeyId, date, region, service] = credential as unknown as [string, string, string, string, string];
  return { accessKeyId, scope: `${date}/${region}/${service}/aws4_request`, date, region, service, signedHeaders: signedHeaders.split(';'), signature };
}

/** A header value as SigV4 canonicalises it: trimmed, runs of spaces folded to one. */
export const canonicalHeaderValue = (value: string): string => value.trim().replace(/\s+/g, ' ');

/** RFC 3986 percent-encoding of everything but the unreserved characters, as SigV4 wants it. */
export const uriEncode = (s: string): string =>
  encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

/**
 * The canonical URI of a request-target path as it came over the wire (already percent-encoded):
 * dot segments removed, then each segment encoded again (every service but S3 double-encodes,
 * as botocore and the AWS SDK for JavaScript do).
 */
export function canonicalUri(rawPath: string): string {
  const out: string[] = [];
  const segments = rawPath.split('/').slice(1);
  for (const seg of segments) {
    if (seg === '.') continue;
    if (seg === '..') out.pop();
    else out.push(seg);
  }
  const last = segments.at(-1);
  if ((last === '.' || last === '..') && out.at(-1) !== '') out.push(''); // "/a/." names the directory "/a/"
  return '/' + out.map(uriEncode).join('/');
}

/** The canonical query string of a raw query (without "?"): pairs decoded, re-encoded, sorted by key then value. */
export function canonicalQuery(rawQuery: string): string {
  const decode = (s: string): string => {
    try {
      return decodeURIComponent(s);
    } catch {
      return s;
    }
  };
  const pairs: [string, string][] = [];
  for (const part of rawQuery.split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const key = eq < 0 ? part : part.slice(0, eq);
    pairs.push([uriEncode(decode(key)), uriEncode(eq < 0 ? '' : decode(part.slice(eq + 1)))]);
  }
  const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
  pairs.sort((a, b) => cmp(a[0], b[0]) || cmp(a[1], b[1]));
  return pairs.map(([k, v]) => `${k}=${v}`).join('&');
}

export const sha256Hex = (data: string | Uint8Array): string => createHash('sha256').update(data).digest('hex');
const hmac = (key: string | Uint8Array, data: string): Buffer => createHmac('sha256', key).update(data, 'utf8').digest();

export interface CanonicalRequestInput {
  readonly method: string;
  /** The request-target path as received, e.g. "/". */
  readonly path: string;
  /** The request-target query as received, without "?". */
  readonly query: string;
  /** Every value of each header, by lowercase name (several values: several entries). */
  readonly headers: ReadonlyMap<string, readonly string[]>;
  readonly signedHeaders: readonly string[];
  /** Hex SHA-256 of the body, computed by the verifier. */
  readonly payloadHash: string;
}

/**
 * The canonical request over exactly `signedHeaders`; throws naming a signed header that the
 * request does not carry.
 */
export function canonicalRequest(r: CanonicalRequestInput): string {
  const lines = r.signedHeaders.map((name) => {
    const values = r.headers.get(name);
    if (!values) throw new MissingSignedHeaderError(name);
    return `${name}:${values.map(canonicalHeaderValue).join(',')}\n`;
  });
  return [r.method.toUpperCase(), canonicalUri(r.path), canonicalQuery(r.query), lines.join(''), r.signedHeaders.join(';'), r.payloadHash].join('\n');
}

export class MissingSignedHeaderError extends Error {
  constructor(readonly header: string) {
    super(`SignedHeaders lists ${header}, which the request does not carry`);
  }
}

/** The string to sign; `amzDate` is the request time as YYYYMMDDTHHMMSSZ. */
export const stringToSign = (amzDate: string, scope: string, canonical: string): string =>
  [ALGORITHM, amzDate, scope, sha256Hex(canonical)].join('\n');

export function signingKey(secret: string, date: string, region: string, service: string): Buffer {
  return hmac(hmac(hmac(hmac(`AWS4${secret}`, date), region), service), 'aws4_request');
}

export const signatureOf = (key: Uint8Array, toSign: string): string => hmac(key, toSign).toString('hex');

/** Constant-time comparison (of two signatures, or two session tokens). */
export function constantTimeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a, 'utf8');
  const y = Buffer.from(b, 'utf8');
  return x.length === y.length && timingSafeEqual(x, y);
}

/**
 * The request time for the string to sign: X-Amz-Date (YYYYMMDDTHHMMSSZ) or else an HTTP Date
 * header, in the same basic ISO 8601 form; undefined when neither is usable.
 */
export function requestTime(xAmzDate: string | undefined, date: string | undefined): { amzDate: string; time: Date } | undefined {
  if (xAmzDate !== undefined) {
    const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(xAmzDate.trim());
    if (!m) return undefined;
    const time = new Date(Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!));
    return Number.isNaN(time.getTime()) ? undefined : { amzDate: m[0], time };
  }
  if (date === undefined) return undefined;
  const ms = Date.parse(date);
  if (Number.isNaN(ms)) return undefined;
  const time = new Date(ms);
  return { amzDate: time.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, ''), time };
}

/** Header values by lowercase name from Node's rawHeaders ([name, value, name, value, ...]). */
export function headersFromRaw(rawHeaders: readonly string[]): Map<string, string[]> {
  const headers = new Map<string, string[]>();
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!.toLowerCase();
    const values = headers.get(name);
    if (values) values.push(rawHeaders[i + 1]!);
    else headers.set(name, [rawHeaders[i + 1]!]);
  }
  return headers;
}
