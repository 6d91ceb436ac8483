/**
 * VALIDATE CONNECTION: prove that a connection's credentials work and, for assume-role
 * connections, that the customer role is safe (docs/design.md §6). Every failure names the hop that
 * failed and the AWS error code (DETAIL) and says what to change (HINT).
 *
 *   static keys:  access key → GetCallerIdentity
 *   assume role:  ambient identity → jump role → customer role (with the external id) → GetCallerIdentity
 *                 and the customer role must refuse the same request with no external id,
 *                 and with an external id iamlink never issued.
 */
import { randomBytes } from 'node:crypto';
import { SqlError, SqlState } from '../errors.js';
import type { Redacted } from '../secrets/redacted.js';
import type { JumpRoleCredentials } from './jump-role.js';
import { StsCallError, type StsPort, type StsTarget } from './sts.js';

/** Chained hops may not ask for more than an hour; probes ask for the minimum. */
const PROBE_SESSION_SECONDS = 900;

export type ValidationRequest =
  | {
      readonly kind: 'keys';
      readonly accessKeyId: Redacted<string>;
      readonly secretAccessKey: Redacted<string>;
      readonly sessionToken?: Redacted<string>;
      readonly target: StsTarget;
    }
  | {
      readonly kind: 'role';
      readonly roleArn: string;
      readonly sessionName: string;
      readonly externalId: string;
      /** This connection's example trust policy, pretty-printed, for hints. */
      readonly trustPolicy: string;
      readonly target: StsTarget;
    };

/** What a successful validation saw, for the log. */
export interface ValidationReport {
  readonly identity: string;
  readonly requestIds: readonly (string | undefined)[];
}

export class Validator {
  constructor(
    private readonly sts: StsPort,
    private readonly jump: JumpRoleCredentials | undefined,
  ) {}

  /** Validate; `cancel` (a client's CancelRequest) stops it with 57014. */
  async validate(req: ValidationRequest, cancel?: AbortSignal): Promise<ValidationReport> {
    try {
      return await (req.kind === 'keys' ? this.validateKeys(req, cancel) : this.validateRole(req, cancel));
    } catch (err) {
      if (cancel?.aborted) throw new SqlError(SqlState.queryCanceled, 'canceling statement due to user request');
      throw err;
    }
  }

  private async validateKeys(req: Extract<ValidationRequest, { kind: 'keys' }>, cancel?: AbortSignal): Promise<ValidationReport> {
    const credentials = { accessKeyId: req.accessKeyId.reveal(), secretAccessKey: req.secretAccessKey.reveal(), sessionToken: req.sessionToken?.reveal() };
    try {
      const me = await this.sts.getCallerIdentity(req.target, credentials, cancel);
      return { identity: me.arn, requestIds: [me.requestId] };
    } catch (err) {
      const e = asStsError(err);
      // A timeout or an unreachable STS says nothing about the credentials: do not say AWS rejected them.
      const message = isTransient(e) ? `could not check the connection's credentials with AWS STS: ${e.code}` : `AWS rejected the connection's credentials: ${e.code}`;
      const hint = Object.hasOwn(KEY_HINTS, e.code) ? KEY_HINTS[e.code]! : transientHint(e);
      throw failure('access key → STS', message, `Hop: connection's access key → STS GetCallerIdentity. ${describe(e)}`, hint, e);
    }
  }

  private async validateRole(req: Extract<ValidationRequest, { kind: 'role' }>, cancel?: AbortSignal): Promise<ValidationReport> {
    const jump = this.jump;
    if (!jump) {
      throw failure('ambient identity → jump role', 'the server has no AWS connection role configured', 'Hop: ambient identity → jump role. iamlink was started without --aws-connection-role-arn.', OPERATOR_HINT);
    }
    let jumpCredentials;
    try {
      jumpCredentials = (await jump.get()).credentials;
    } catch (err) {
      const e = asStsError(err);
      throw failure(
        'ambient identity → jump role',
        `iamlink could not assume its AWS connection role: ${e.code}`,
        `Hop: ambient identity → jump role (${jump.roleArn}). ${describe(e)}`,
        // The jump hop goes to the server's own STS endpoint, not the connection's.
        isTransient(e) ? transientHint(e, SERVER_ENDPOINT) : `This is a problem with the iamlink server's configuration, not with this connection. ${OPERATOR_HINT}`,
        e,
      );
    }
    const assume = (externalId: string | undefined) =>
      this.sts.assumeRole(req.target, jumpCredentials, { roleArn: req.roleArn, sessionName: req.sessionName, externalId, durationSeconds: PROBE_SESSION_SECONDS }, cancel);
    // The three probes are independent: run them at once (the critical path is one AssumeRole
    // plus one GetCallerIdentity).
    const withId = assume(req.externalId).then(async (assumed) => {
      try {
        return { assumed, me: await this.sts.getCallerIdentity(req.target, assumed.credentials, cancel) };
      } catch (err) {
        throw new IdentityHopFailure(asStsError(err));
      }
    });
    const withoutId = refusal(assume(undefined));
    const wrongId = refusal(assume(`${req.externalId}-never-issued-${randomBytes(6).toString('hex')}`));
    const [first, second, third] = await Promise.allSettled([withId, withoutId, wrongId]);
    const policyHint = `Install this trust policy on ${req.roleArn}:\n${req.trustPolicy}`;
    if (first.status === 'rejected') {
      const err = first.reason as unknown;
      if (err instanceof IdentityHopFailure) {
        throw failure(
          'customer role → STS',
          `could not use the credentials of role ${req.roleArn}: ${err.error.code}`,
          `Hop: customer role (${req.roleArn}) → STS GetCallerIdentity. ${describe(err.error)}`,
          transientHint(err.error, ROLE_ENDPOINT),
          err.error,
        );
      }
      const e = asStsError(err);
      throw failure(
        'jump role → customer role',
        `could not assume role ${req.roleArn}: ${e.code}`,
        `Hop: jump role (${jump.roleArn}) → customer role (${req.roleArn}) with external ID ${req.externalId}. ${describe(e)}`,
        e.code === 'AccessDenied' ? `Check that the role exists and trusts ${jump.roleArn}. ${policyHint}` : transientHint(e, ROLE_ENDPOINT),
        e,
      );
    }
    this.checkRefused(second, req, jump.roleArn, policyHint, 'no');
    this.checkRefused(third, req, jump.roleArn, policyHint, 'wrong');
    return { identity: first.value.me.arn, requestIds: [first.value.assumed.requestId, first.value.me.requestId] };
  }

  /** A probe that must have been refused with AccessDenied. */
  private checkRefused(probe: PromiseSettledResult<Refusal>, req: Extract<ValidationRequest, { kind: 'role' }>, jumpArn: string, hint: string, which: 'no' | 'wrong'): void {
    if (probe.status === 'rejected') throw probe.reason;
    const outcome = probe.value;
    if (outcome.kind === 'refused') return;
    if (outcome.kind === 'inconclusive') {
      throw failure(
        'jump role → customer role',
        `could not verify that role ${req.roleArn} requires its external ID: ${outcome.error.code}`,
        `Hop: jump role (${jumpArn}) → customer role (${req.roleArn}) with ${which === 'no' ? 'no' : 'a wrong'} external ID. ${describe(outcome.error)}`,
        transientHint(outcome.error, ROLE_ENDPOINT),
        outcome.error,
      );
    }
    if (which === 'no') {
      throw failure(
        'jump role → customer role',
        'role trust policy does not require an external ID',
        `The trust policy for the connection's role (${req.roleArn}) is insecure and allows any principal that can assume ${jumpArn} to assume the role.`,
        hint,
      );
    }
    throw failure(
      'jump role → customer role',
      'role trust policy does not check the external ID',
      `The trust policy for the connection's role (${req.roleArn}) accepted an external ID that iamlink never issued, so any principal that can assume ${jumpArn} can assume the role.`,
      hint,
    );
  }
}

type Refusal = { kind: 'refused' } | { kind: 'accepted' } | { kind: 'inconclusive'; error: StsCallError };

/** A probe's outcome: refused (AccessDenied, as it must be), accepted, or unknown. */
async function refusal(probe: Promise<unknown>): Promise<Refusal> {
  try {
    await probe;
    return { kind: 'accepted' };
  } catch (err) {
    const e = asStsError(err);
    return e.code === 'AccessDenied' ? { kind: 'refused' } : { kind: 'inconclusive', error: e };
  }
}

/** GetCallerIdentity with the customer role's credentials failed (after AssumeRole worked). */
class IdentityHopFailure extends Error {
  constructor(readonly error: StsCallError) {
    super(error.message);
  }
}

const OPERATOR_HINT =
  'Ask the operator to check --aws-connection-role-arn, the trust policy of that role, and the credentials iamlink runs with (environment, web identity, container or instance metadata).';

const KEY_HINTS: Record<string, string> = {
  SignatureDoesNotMatch: "The SECRET ACCESS KEY does not belong to the ACCESS KEY ID: update the secret with ALTER SECRET ... AS '<secret access key>'.",
  InvalidClientTokenId: 'AWS does not know this ACCESS KEY ID (or its SESSION TOKEN): check the key id, and that the key is active.',
  ExpiredToken: 'The SESSION TOKEN has expired: store fresh temporary credentials, or use long-lived keys or ASSUME ROLE ARN.',
  AccessDenied: 'The key is valid but may not call sts:GetCallerIdentity: check the policies attached to it.',
};

/** Failures that say nothing about the connection or the role: STS unreachable, slow, throttling or failing. */
function isTransient(e: StsCallError): boolean {
  return e.code === 'Timeout' || e.code === 'NetworkError' || e.code === 'Throttling' || /^(ServiceUnavailable|InternalFailure|RequestLimitExceeded)$/.test(e.code);
}

/** Where a hop's STS endpoint comes from: the connection's options, or (the jump hop) the server's environment. */
const CONNECTION_ENDPOINT = "the connection's ENDPOINT and REGION";
const SERVER_ENDPOINT = 'the STS endpoint and region the iamlink server uses (AWS_ENDPOINT_URL, AWS_REGION)';
/** Assume-role hops are signed with the jump role: they go to the server's STS, in the connection's REGION. */
const ROLE_ENDPOINT = "the connection's REGION, the STS endpoint the iamlink server uses (AWS_ENDPOINT_URL)";

function transientHint(e: StsCallError, endpoint = CONNECTION_ENDPOINT): string {
  if (!isTransient(e)) return "Check the connection's options and the role's policies against the AWS error above.";
  const unreachable = e.code === 'NetworkError' ? 'AWS STS could not be reached. ' : '';
  return `${unreachable}This looks transient: try VALIDATE CONNECTION again. If it persists, check ${endpoint} and the network path to AWS STS.`;
}

function describe(e: StsCallError): string {
  return `AWS error ${e.code}: ${e.message}${e.requestId ? ` (request id ${e.requestId})` : ''}`;
}

function asStsError(err: unknown): StsCallError {
  if (err instanceof StsCallError) return err;
  return new StsCallError('InternalError', (err as Error).message ?? String(err), undefined);
}

export type Hop = 'access key → STS' | 'ambient identity → jump role' | 'jump role → customer role' | 'customer role → STS';

/** A validation failure: 58000 for the client, with the hop and AWS request id for the log. */
export class ValidationError extends SqlError {
  constructor(
    message: string,
    detail: string,
    hint: string,
    readonly hop: Hop,
    readonly awsRequestId: string | undefined,
  ) {
    super(SqlState.systemError, message, { detail, hint });
  }
}

function failure(hop: Hop, message: string, detail: string, hint: string, cause?: StsCallError): ValidationError {
  return new ValidationError(message, detail, hint, hop, cause?.requestId);
}
