/**
 * Format checks for AWS option values, beyond what Materialize checks: a typo in an ARN or a
 * region is caught at CREATE time, not at the first (remote, slow) validation.
 */
import { SqlError, SqlState } from '../errors.js';

/** arn:<partition>:iam::<12 digits>:role/<optional path/><name> */
const ROLE_ARN = /^arn:(aws|aws-cn|aws-us-gov|aws-iso|aws-iso-[a-z]|aws-eusc):iam::(\d{12}):role\/((?:[\x21-\x7e]+\/)?)([\w+=,.@-]{1,64})$/;
const REGION = /^[a-z]{2}(-[a-z]+)+-\d{1,2}$/;
const SESSION_NAME = /^[\w+=,.@-]{2,64}$/;

function invalid(option: string, message: string, hint: string, position: number): SqlError {
  return new SqlError(SqlState.invalidParameterValue, `invalid ${option}: ${message}`, { hint, position });
}

export function checkRoleArn(value: string, position: number): void {
  if (!ROLE_ARN.test(value) || value.length > 2048) {
    throw invalid(
      'ASSUME ROLE ARN',
      'not an IAM role ARN',
      "An IAM role ARN looks like 'arn:aws:iam::123456789012:role/MyRole' (a partition, a 12-digit account id, and role/ with an optional path).",
      position,
    );
  }
}

export function checkRegion(value: string, position: number): void {
  if (!REGION.test(value)) {
    throw invalid('REGION', 'not an AWS region name', "A region looks like 'us-east-1' or 'eu-west-2'.", position);
  }
}

export function checkSessionName(value: string, position: number): void {
  if (!SESSION_NAME.test(value)) {
    throw invalid(
      'ASSUME ROLE SESSION NAME',
      'must be 2 to 64 characters of letters, digits and +=,.@_-',
      'AWS accepts role session names matching [\\w+=,.@-]{2,64}.',
      position,
    );
  }
}

export function checkEndpoint(value: string, position: number): void {
  let url: URL | undefined;
  try {
    url = new URL(value);
  } catch {
    url = undefined;
  }
  const ok = url !== undefined && (url.protocol === 'https:' || url.protocol === 'http:') && url.hostname !== '' && !url.username && !url.password;
  if (!ok) {
    throw invalid('ENDPOINT', 'not an http(s) URL', "An endpoint looks like 'https://sts.us-east-1.amazonaws.com' and carries no credentials.", position);
  }
}

export function checkNotEmpty(option: string, value: string, position: number): void {
  if (value.length === 0) throw invalid(option, 'must not be empty', `Give ${option} a non-empty value.`, position);
}
