import { createHash } from 'node:crypto';

/** The trust policy a customer puts on their role: the same document as mz_aws_connections.example_trust_policy. */
export function exampleTrustPolicy(principal: string, externalId: string): object {
  return {
    Version: '2012-10-17',
    Statement: [
      {
        Effect: 'Allow',
        Principal: { AWS: principal },
        Action: 'sts:AssumeRole',
        Condition: { StringEquals: { 'sts:ExternalId': externalId } },
      },
    ],
  };
}

/** `mz_<prefix>_<connection id>`: unique per connection, never reused (ids are never reused). */
export function externalIdFor(prefix: string, connectionId: string): string {
  return `mz_${prefix}_${connectionId}`;
}

/** AWS's limit on a role session name. */
const MAX_SESSION_NAME = 64;

/**
 * The default role session name, `<environment id>-<connection id>`. When that is longer than
 * AWS's 64 characters (Materialize's environment ids are 52+, more for long region names), the
 * environment id is shortened to its start plus 8 hex digits of its SHA-256, so that the name
 * stays valid, deterministic, and different for environments that differ only at the end (the
 * ordinal): `aws-ap-southeast-1-4b8c7c1e-1111-4222-8333-9444-1a2b3c4d-u42`.
 */
export function defaultSessionName(environmentId: string, connectionId: string): string {
  const suffix = `-${connectionId}`;
  const whole = environmentId + suffix;
  if (whole.length <= MAX_SESSION_NAME) return whole;
  const digest = `-${createHash('sha256').update(environmentId).digest('hex').slice(0, 8)}`;
  return environmentId.slice(0, MAX_SESSION_NAME - suffix.length - digest.length) + digest + suffix;
}
