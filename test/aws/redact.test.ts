import { STSServiceException } from '@aws-sdk/client-sts';
import { describe, expect, it } from 'vitest';
import { redactAwsText } from '../../src/aws/redact.js';
import { StsCallError, toStsCallError } from '../../src/aws/sts.js';

const KEY_ID = 'AKIAIOSFODNN7EXAMPLE';
const SECRET = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
const SIGNATURE = 'fe5f80f77d5fa3beca038a248ff027d0445342fe2855ddc963176630326f1024';
// The shape of a real session token: a few hundred base64 characters.
const TOKEN =
  'IQoJb3JpZ2luX2VjEBYaCXVzLWVhc3QtMSJHMEUCIQDm8jVx0W2e5S0Z8m+Pz2Y5rJQ2YgLq3o0bH1sH5Zx0TwIgQ3mK8s3R0yO1ZbT4uE9XJ1b1fQhG5n2Q8v7yW1Rr6kQqnwIIz///////////ARAAGgw1NTU1NTU1NTU1NTUiDJ3Yc2m8nH+QmE0Y4iryAXc0gZ3WzN8pZkqVv0e1i6m1A3mV==';
const AUTH = `AWS4-HMAC-SHA256 Credential=${KEY_ID}/20240101/us-east-1/sts/aws4_request, SignedHeaders=host;x-amz-date;x-amz-security-token, Signature=${SIGNATURE}`;

/** [what, input, what must stay] — and no credential may survive in any of them. */
const CASES: readonly [string, string, readonly string[]][] = [
  [
    "AWS's IncompleteSignature message",
    `Authorization header requires 'Credential' parameter. Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. Authorization=${AUTH}`,
    ["Authorization header requires 'Credential' parameter.", "either a 'X-Amz-Date' or a 'Date' header.", 'Authorization=<redacted>'],
  ],
  ['the header quoted after "in Authorization header:"', `'x' not a valid key=value pair (missing equal-sign) in Authorization header: '${AUTH}'.`, ["'x' not a valid key=value pair", 'in Authorization header: ']],
  ['an HTTP header line', `Authorization: ${AUTH}\nX-Amz-Security-Token: ${TOKEN}\nHost: sts.amazonaws.com`, ['Authorization: <redacted>', 'X-Amz-Security-Token: <redacted>', 'Host: sts.amazonaws.com']],
  ['a bearer token', 'Authorization=Bearer eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.e30 and more', ['Authorization=<redacted>', ' and more']],
  ['a session token as a query parameter', `X-Amz-Security-Token=${encodeURIComponent(TOKEN)}&X-Amz-Credential=${KEY_ID}%2F20240101&X-Amz-Signature=${SIGNATURE}`, ['X-Amz-Security-Token=<redacted>&X-Amz-Credential=<redacted>&X-Amz-Signature=<redacted>']],
  ['a bare session token', `The security token ${TOKEN} is invalid`, ['The security token <redacted> is invalid']],
  ['a bare secret access key', `secret ${SECRET}.`, ['secret <redacted>.']],
  ['bare key ids of every kind', 'keys AKIAIOSFODNN7EXAMPLE, ASIAY34FZKBOKMUTVV7A and role id AROA3XFRBF535PLBIFPI4', ['keys <redacted>, <redacted> and role id <redacted>']],
];

/** Text that names things the user needs, and must come out unchanged. */
const KEPT: readonly [string, string][] = [
  ['a role ARN', 'User: arn:aws:sts::111111111111:assumed-role/iamlink-jump/test-env-jump is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::123456789012:role/x'],
  ['an ARN whose path and name are one 40+ character run of base64 letters', 'resource: arn:aws:iam::123456789012:role/service/AVeryLongRoleNameWithoutAnyDashesAtAllOk1234'],
  ['a GovCloud ARN and a managed policy ARN', 'arn:aws-us-gov:iam::123456789012:role/ReadOnlyRoleForTheAuditorsInTheOtherAccount and arn:aws:iam::aws:policy/AdministratorAccessForEverythingInTheAccount'],
  ['an external id', 'with external ID mz_6f1c2a34-9b7e-4d21-8c3f-0a1b2c3d4e5f_u12'],
  ['a test external id', 'mz_test-prefix_u1-never-issued-a1b2c3d4e5f6'],
  ['a request id', '(request id 3f0a8c1e-5b7d-4e9a-8f21-6c4d2b1a0e9f)'],
  ["AWS's prose about the header", "Authorization header requires 'Signature' parameter. Signature expired: the request time is too far from the server time"],
  ['an AWS error code', 'AWS error SignatureDoesNotMatch: The request signature we calculated does not match the signature you provided.'],
  ['a network error', 'could not reach STS: connect ECONNREFUSED 127.0.0.1:4566'],
];

describe('redactAwsText', () => {
  it.each(CASES)('redacts %s', (_, input, kept) => {
    const out = redactAwsText(input);
    for (const secret of [KEY_ID, SECRET, SIGNATURE, TOKEN, encodeURIComponent(TOKEN), 'ASIAY34FZKBOKMUTVV7A', 'AROA3XFRBF535PLBIFPI4', 'eyJhbGciOiJIUzI1NiIs']) {
      expect(out).not.toContain(secret);
    }
    expect(out).toContain('<redacted>');
    for (const k of kept) expect(out).toContain(k);
  });

  it.each(KEPT)('keeps %s', (_, input) => {
    expect(redactAwsText(input)).toBe(input);
  });
});

describe('toStsCallError', () => {
  /** A socket or DNS error as the SDK gives up on it: Node's error, with $metadata from the retry middleware. */
  const network = (code: string, message: string): Error => Object.assign(new Error(message), { code, $metadata: { attempts: 4, totalRetryDelay: 69 } });

  it.each([
    ['ECONNREFUSED', 'connect ECONNREFUSED 127.0.0.1:1'],
    ['ECONNRESET', 'socket hang up'],
    ['ENOTFOUND', 'getaddrinfo ENOTFOUND sts.example.invalid'],
    ['EAI_AGAIN', 'getaddrinfo EAI_AGAIN sts.us-east-1.amazonaws.com'],
  ])('classifies %s as NetworkError', (code, message) => {
    const e = toStsCallError(network(code, message), false, 2000);
    expect(e.code).toBe('NetworkError');
    expect(e.message).toContain('could not reach STS');
    expect(e.message).toContain(code);
  });

  it('a deadline is a Timeout, whatever the SDK threw', () => {
    expect(toStsCallError(network('ECONNRESET', 'aborted'), true, 2000).code).toBe('Timeout');
  });

  it("redacts AWS's message and keeps its code and request id", () => {
    const aws = new STSServiceException({ name: 'IncompleteSignature', $fault: 'client', $metadata: { requestId: 'req-1' }, message: `Authorization=${AUTH}` });
    const e = toStsCallError(aws, false, 2000);
    expect(e).toMatchObject({ code: 'IncompleteSignature', requestId: 'req-1', message: 'Authorization=<redacted>' });
  });

  it('every StsCallError is redacted, however it is built', () => {
    expect(new StsCallError('InternalError', `token ${TOKEN}`, undefined).message).toBe('token <redacted>');
  });
});
