/**
 * The jump role's credentials: assumed from the ambient identity once and shared by every
 * validation until shortly before they expire. Concurrent callers share one request.
 */
import type { AwsCredentialIdentityProvider } from '@smithy/types';
import type { AssumedRole, StsPort, StsTarget } from './sts.js';

/** Refresh this long before expiry, so that no validation starts with credentials about to lapse. */
const REFRESH_MARGIN_MS = 5 * 60 * 1000;
/** Requested lifetime; the ambient identity may itself be a role, so stay within the chaining cap. */
export const JUMP_SESSION_SECONDS = 3600;

export class JumpRoleCredentials {
  private cached: AssumedRole | undefined;
  private inflight: Promise<AssumedRole> | undefined;

  constructor(
    private readonly sts: StsPort,
    private readonly target: StsTarget,
    private readonly ambient: AwsCredentialIdentityProvider,
    readonly roleArn: string,
    private readonly sessionName: string,
    private readonly now: () => number = Date.now,
  ) {}

  /** Whether cached credentials are fresh (for logs and the benchmark). */
  get warm(): boolean {
    const exp = this.cached?.credentials.expiration?.getTime();
    return exp !== undefined && exp - this.now() > REFRESH_MARGIN_MS;
  }

  async get(): Promise<AssumedRole> {
    if (this.warm) return this.cached!;
    this.inflight ??= this.sts
      .assumeRole(this.target, this.ambient, { roleArn: this.roleArn, sessionName: this.sessionName, durationSeconds: JUMP_SESSION_SECONDS })
      .then((assumed) => {
        this.cached = assumed;
        return assumed;
      })
      .finally(() => {
        this.inflight = undefined;
      });
    return this.inflight;
  }
}
