/**
 * Credential-shaped text out of AWS error messages. STS answers some malformed or mis-signed
 * requests (IncompleteSignature, SignatureDoesNotMatch) with a message that quotes the request's
 * Authorization header and session token; those messages reach the SQL client (DETAIL) and the
 * log, so they are cleaned once, where an StsCallError is built.
 *
 * What stays: role and session ARNs, external ids (mz_<uuid>_<id>), request ids, error codes:
 * the user needs them to act on the error, and none of them is a secret.
 */

const REDACTED = '<redacted>';

/**
 * A whole Authorization header value, as AWS quotes it (`Authorization=AWS4-HMAC-SHA256
 * Credential=..., SignedHeaders=..., Signature=...`, or `Authorization header: '...'`): the
 * scheme, or a Basic/Bearer token, then every `name=value` parameter that follows. Prose such
 * as "Authorization header requires 'Credential' parameter" has no `:`/`=` and is left alone.
 */
const AUTHORIZATION = /\b(Authorization(?: header)?\s*[:=]\s*'?)(?:(?:Bearer|Basic)\s+)?[^\s,]+(?:(?:,\s*|\s+)[A-Za-z-]+=[^\s,]*)*/gi;

/** Labelled values: the session token, and SigV4's Credential (key id, date, scope) and Signature, also as X-Amz-* query parameters. */
const LABELLED = /\b(X-Amz-Security-Token\s*[:=]\s*|(?:X-Amz-)?Credential\s*=\s*|(?:X-Amz-)?Signature\s*=\s*)[^\s,;&"'<>]+/gi;

/** Access key ids and other IAM unique ids (AKIA long-lived, ASIA temporary, AROA role, ...). */
const KEY_ID = /\b(?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AIPA|ANPA|ANVA|APKA|AROA|ASCA)[A-Z0-9]{12,}\b/g;

/**
 * A maximal run of 40+ base64 characters: secret access keys are 40, session tokens hundreds.
 * Dashes and underscores end a run, so UUIDs, external ids and hyphenated names never reach 40.
 */
const LONG_TOKEN = /(?<![A-Za-z0-9+/])[A-Za-z0-9+/]{40,}={0,2}(?![A-Za-z0-9+/=])/g;

/**
 * An ARN: `/` and long role names are base64 characters too, so a path like
 * `role/service/SomeVeryLongRoleNameWithoutAnyDashesAtAll` would otherwise read as a token.
 * ARNs are identifiers, never secrets; they are spared the LONG_TOKEN rule only (the labelled
 * rules do not occur in them).
 */
const ARN = /(\barn:aws[a-z-]*:[a-z0-9-]*:[a-z0-9-]*:[a-z0-9-]*:[\w+=,.@/:-]*)/;

/** `text` with every credential-shaped part replaced by `<redacted>`. */
export function redactAwsText(text: string): string {
  const labelled = text.replace(AUTHORIZATION, `$1${REDACTED}`).replace(LABELLED, `$1${REDACTED}`).replace(KEY_ID, REDACTED);
  // split() with a capturing group puts the ARNs at the odd indexes.
  return labelled
    .split(ARN)
    .map((part, i) => (i % 2 === 1 ? part : part.replace(LONG_TOKEN, REDACTED)))
    .join('');
}
