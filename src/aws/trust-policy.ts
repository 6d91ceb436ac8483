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

/** The default role session name, `<environment id>-<connection id>`, within AWS's 64 characters. */
export function defaultSessionName(environmentId: string, connectionId: string): string {
  const suffix = `-${connectionId}`;
  return environmentId.slice(0, 64 - suffix.length) + suffix;
}
