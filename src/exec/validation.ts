/** Turning a stored connection definition into a validation request, and running it. */
import type { Catalog } from '../catalog/catalog.js';
import type { AwsConnectionDef, LiteralOrSecret } from '../catalog/model.js';
import type { Queryable } from '../catalog/store.js';
import { defaultSessionName, exampleTrustPolicy, externalIdFor } from '../aws/trust-policy.js';
import type { StsTarget } from '../aws/sts.js';
import { ValidationError, type ValidationRequest, type Validator } from '../aws/validator.js';
import { SqlError, SqlState } from '../errors.js';
import type { Logger } from '../log.js';
import { Redacted } from '../secrets/redacted.js';

export interface ValidationContext {
  readonly validator: Validator;
  readonly environmentId: string;
  readonly externalIdPrefix: string;
  /** The jump role ARN (the connections' principal), if configured. */
  readonly principal: string | undefined;
  /** Where STS is when a connection names no ENDPOINT/REGION of its own. */
  readonly defaultTarget: StsTarget;
}

/**
 * Validate `def` as connection `id`. Secrets are read now (so ALTER SECRET takes effect at the
 * next validation), in a short transaction; the remote calls run with no engine lock held.
 */
export async function validateConnection(
  ctx: ValidationContext,
  /** Runs a read against the catalog as the validating session sees it. */
  view: <T>(fn: (tx: Queryable) => Promise<T>) => Promise<T>,
  catalog: Catalog,
  log: Logger,
  id: string,
  def: AwsConnectionDef,
  cancel?: AbortSignal,
): Promise<void> {
  const started = Date.now();
  const request = await view((tx) => buildRequest(ctx, catalog, tx, id, def));
  try {
    const report = await ctx.validator.validate(request, cancel);
    log.info({ connection: id, outcome: 'ok', identity: report.identity, awsRequestIds: report.requestIds, durationMs: Date.now() - started }, 'validation');
  } catch (err) {
    const e = err instanceof SqlError ? err : new SqlError(SqlState.internalError, 'internal error');
    const where = err instanceof ValidationError ? { hop: err.hop, awsRequestId: err.awsRequestId } : {};
    const cause = err instanceof SqlError ? {} : { err }; // unexpected: keep the stack in the log
    log.warn({ connection: id, outcome: e.code, message: e.message, ...where, ...cause, durationMs: Date.now() - started }, 'validation');
    throw err;
  }
}

async function buildRequest(ctx: ValidationContext, catalog: Catalog, tx: Queryable, id: string, def: AwsConnectionDef): Promise<ValidationRequest> {
  const region = def.region ?? ctx.defaultTarget.region;
  if (def.assume_role_arn !== undefined) {
    // Every call of this chain is signed with the platform's jump-role credentials: it goes only
    // to the STS the operator chose, never to a user's ENDPOINT (which would collect them).
    const target: StsTarget = { endpoint: ctx.defaultTarget.endpoint, region };
    const externalId = externalIdFor(ctx.externalIdPrefix, id);
    return {
      kind: 'role',
      roleArn: def.assume_role_arn,
      sessionName: def.assume_role_session_name ?? defaultSessionName(ctx.environmentId, id),
      externalId,
      trustPolicy: JSON.stringify(exampleTrustPolicy(ctx.principal ?? '<the server has no AWS connection role>', externalId), null, 2),
      target,
    };
  }
  // Static keys are the user's own: their calls may go to the connection's ENDPOINT.
  const target: StsTarget = { endpoint: def.endpoint ?? ctx.defaultTarget.endpoint, region };
  const value = async (v: LiteralOrSecret | string | undefined): Promise<Redacted<string> | undefined> => {
    if (v === undefined) return undefined;
    if (typeof v === 'string') return readSecret(catalog, tx, v);
    return 'literal' in v ? new Redacted(v.literal) : readSecret(catalog, tx, v.secret);
  };
  return {
    kind: 'keys',
    accessKeyId: (await value(def.access_key_id))!,
    secretAccessKey: (await value(def.secret_access_key))!,
    sessionToken: await value(def.session_token),
    target,
  };
}

async function readSecret(catalog: Catalog, tx: Queryable, id: string): Promise<Redacted<string>> {
  const v = await catalog.readSecret(tx, id);
  if (!v) throw new SqlError(SqlState.undefinedObject, `secret ${id} no longer exists`);
  return v;
}
