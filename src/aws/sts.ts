/**
 * The STS port: the two calls validation needs, behind an interface so that tests and the
 * server choose the endpoint, and every call has a deadline and bounded retries.
 */
import { createHash } from 'node:crypto';
import { AssumeRoleCommand, GetCallerIdentityCommand, STSClient, STSServiceException } from '@aws-sdk/client-sts';
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@smithy/types';
import { redactAwsText } from './redact.js';

export type Credentials = AwsCredentialIdentity;

export interface StsTarget {
  /** Endpoint URL; undefined for the SDK's default (AWS_ENDPOINT_URL(_STS) or the region's). */
  readonly endpoint?: string;
  readonly region: string;
}

export interface AssumedRole {
  readonly credentials: Credentials & { readonly expiration?: Date };
  readonly arn: string;
  readonly requestId: string | undefined;
}

export interface CallerIdentity {
  readonly arn: string;
  readonly account: string;
  readonly requestId: string | undefined;
}

export interface AssumeRoleParams {
  readonly roleArn: string;
  readonly sessionName: string;
  readonly externalId?: string;
  readonly durationSeconds: number;
}

export interface StsPort {
  /** `cancel` aborts the call (a client's CancelRequest); the deadline applies regardless. */
  assumeRole(target: StsTarget, credentials: Credentials | AwsCredentialIdentityProvider, params: AssumeRoleParams, cancel?: AbortSignal): Promise<AssumedRole>;
  getCallerIdentity(target: StsTarget, credentials: Credentials | AwsCredentialIdentityProvider, cancel?: AbortSignal): Promise<CallerIdentity>;
}

/**
 * A failed STS call, in terms the validator can explain. Its code, message and request id come
 * from AWS (or whatever answers at the connection's ENDPOINT) and end up in the client's DETAIL
 * and in the log, so all three are redacted here, where every StsCallError is built.
 */
export class StsCallError extends Error {
  /** The AWS error code (AccessDenied, SignatureDoesNotMatch, ...) or Timeout / NetworkError / CredentialsError. */
  readonly code: string;
  readonly requestId: string | undefined;

  constructor(code: string, message: string, requestId: string | undefined) {
    super(redactAwsText(message));
    this.code = redactAwsText(code);
    this.requestId = requestId === undefined ? undefined : redactAwsText(requestId);
  }
}

export interface StsOptions {
  /** Deadline for one call, retries included. */
  readonly timeoutMs: number;
  /** Attempts per call: retries (with jitter) only for throttling, 5xx and network errors. */
  readonly maxAttempts: number;
}

/** Clients kept for reuse (building one costs milliseconds of CPU on the shared event loop). */
const MAX_CLIENTS = 64;

export class AwsSdkSts implements StsPort {
  private readonly clients = new Map<string, STSClient>();
  private readonly providerKeys = new WeakMap<object, string>();
  private nextProvider = 1;

  constructor(private readonly options: StsOptions) {}

  async assumeRole(target: StsTarget, credentials: Credentials | AwsCredentialIdentityProvider, p: AssumeRoleParams, cancel?: AbortSignal): Promise<AssumedRole> {
    const out = await this.send(target, credentials, cancel, (client, abortSignal) =>
      client.send(
        new AssumeRoleCommand({ RoleArn: p.roleArn, RoleSessionName: p.sessionName, ExternalId: p.externalId, DurationSeconds: p.durationSeconds }),
        { abortSignal },
      ),
    );
    const c = out.Credentials;
    if (!c?.AccessKeyId || !c.SecretAccessKey) throw new StsCallError('InvalidResponse', 'AssumeRole returned no credentials', out.$metadata.requestId);
    return {
      credentials: { accessKeyId: c.AccessKeyId, secretAccessKey: c.SecretAccessKey, sessionToken: c.SessionToken, expiration: c.Expiration },
      arn: out.AssumedRoleUser?.Arn ?? '',
      requestId: out.$metadata.requestId,
    };
  }

  async getCallerIdentity(target: StsTarget, credentials: Credentials | AwsCredentialIdentityProvider, cancel?: AbortSignal): Promise<CallerIdentity> {
    const out = await this.send(target, credentials, cancel, (client, abortSignal) => client.send(new GetCallerIdentityCommand({}), { abortSignal }));
    return { arn: out.Arn ?? '', account: out.Account ?? '', requestId: out.$metadata.requestId };
  }

  private async send<T>(
    target: StsTarget,
    credentials: Credentials | AwsCredentialIdentityProvider,
    cancel: AbortSignal | undefined,
    call: (c: STSClient, s: AbortSignal) => Promise<T>,
  ): Promise<T> {
    const client = this.client(target, credentials);
    const deadline = AbortSignal.timeout(this.options.timeoutMs);
    try {
      return await call(client, cancel ? AbortSignal.any([deadline, cancel]) : deadline);
    } catch (err) {
      if (cancel?.aborted) throw new StsCallError('Canceled', 'canceled by the client', undefined);
      throw toStsCallError(err, deadline.aborted, this.options.timeoutMs);
    }
  }

  /**
   * One client per endpoint, region and credentials, least recently used dropped first. The
   * key digests the whole credential: a changed secret (ALTER SECRET) must never reuse a client
   * built with the old one.
   */
  private client(target: StsTarget, credentials: Credentials | AwsCredentialIdentityProvider): STSClient {
    const who =
      typeof credentials === 'function'
        ? this.providerKey(credentials)
        : createHash('sha256').update(`${credentials.accessKeyId}\0${credentials.secretAccessKey}\0${credentials.sessionToken ?? ''}`).digest('hex');
    const key = `${target.endpoint ?? ''}|${target.region}|${who}`;
    let client = this.clients.get(key);
    if (client) {
      this.clients.delete(key);
    } else {
      client = new STSClient({
        region: target.region,
        ...(target.endpoint ? { endpoint: target.endpoint } : {}),
        credentials,
        maxAttempts: this.options.maxAttempts,
        retryMode: 'standard',
      });
      if (this.clients.size >= MAX_CLIENTS) {
        const [oldest, old] = this.clients.entries().next().value as [string, STSClient];
        this.clients.delete(oldest);
        old.destroy();
      }
    }
    this.clients.set(key, client);
    return client;
  }

  private providerKey(provider: object): string {
    let k = this.providerKeys.get(provider);
    if (!k) {
      k = `provider-${this.nextProvider++}`;
      this.providerKeys.set(provider, k);
    }
    return k;
  }
}

/**
 * Socket and DNS failures: STS was never reached. Checked before `$metadata`, which the SDK's
 * retry middleware attaches to every error it gives up on, network errors included (their name
 * is then just "Error").
 */
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'ENETUNREACH',
  'ENETDOWN',
  'EADDRNOTAVAIL',
]);

/** How a failed SDK call reads to the validator (exported for its unit test). */
export function toStsCallError(err: unknown, timedOut: boolean, timeoutMs: number): StsCallError {
  if (timedOut) return new StsCallError('Timeout', `no answer from STS within ${timeoutMs / 1000} s`, undefined);
  if (err instanceof STSServiceException) return new StsCallError(err.name, err.message, err.$metadata.requestId);
  const e = err as { name?: string; message?: string; code?: string; $metadata?: { requestId?: string } };
  if (e.name === 'CredentialsProviderError' || e.name === 'ProviderError') return new StsCallError('CredentialsError', e.message ?? 'no credentials', undefined);
  if (e.code !== undefined && NETWORK_CODES.has(e.code)) return new StsCallError('NetworkError', networkMessage(e.code, e.message), undefined);
  if (e.$metadata && e.name) return new StsCallError(e.name, e.message ?? e.name, e.$metadata.requestId);
  return new StsCallError('NetworkError', e.code ?? e.message ?? 'request failed', undefined);
}

/** "could not reach STS: connect ECONNREFUSED 127.0.0.1:4566": Node's message usually names the code and the address. */
function networkMessage(code: string, message = ''): string {
  return `could not reach STS: ${message.includes(code) ? message : `${code} ${message}`.trim()}`;
}
