/**
 * The one error type a client ever sees. Everything that fails in a way the user can act on
 * becomes a SqlError with a real SQLSTATE; anything else is logged and answered
 * `XX000 internal error` without its text (see `toSqlError`).
 */

/** SQLSTATEs we use, by name. Keep docs/errors.md in sync (a test checks it). */
export const SqlState = {
  successfulCompletion: '00000',
  warning: '01000',
  connectionException: '08000',
  connectionFailure: '08006',
  protocolViolation: '08P01',
  featureNotSupported: '0A000',
  nullValueNotAllowed: '22004',
  characterNotInRepertoire: '22021',
  invalidParameterValue: '22023',
  invalidTransactionState: '25000',
  activeSqlTransaction: '25001',
  readOnlySqlTransaction: '25006',
  noActiveSqlTransaction: '25P01',
  serializationFailure: '40001',
  inFailedSqlTransaction: '25P02',
  idleInTransactionSessionTimeout: '25P03',
  invalidAuthorizationSpecification: '28000',
  invalidPassword: '28P01',
  invalidGrantOperation: '0LP01',
  reservedName: '42939',
  configurationLimitExceeded: '53400',
  dependentObjectsStillExist: '2BP01',
  invalidCatalogName: '3D000',
  invalidSchemaName: '3F000',
  syntaxError: '42601',
  undefinedParameter: '42P02',
  insufficientPrivilege: '42501',
  undefinedObject: '42704',
  duplicateObject: '42710',
  wrongObjectType: '42809',
  nameTooLong: '42622',
  programLimitExceeded: '54000',
  tooManyConnections: '53300',
  objectNotInPrerequisiteState: '55000',
  objectInUse: '55006',
  queryCanceled: '57014',
  adminShutdown: '57P01',
  systemError: '58000',
  configFileError: 'F0000',
  internalError: 'XX000',
} as const;

export type SqlStateCode = (typeof SqlState)[keyof typeof SqlState];

export type Severity = 'ERROR' | 'FATAL' | 'PANIC';

export interface SqlErrorFields {
  readonly detail?: string;
  readonly hint?: string;
  /** 0-based character offset into the statement text; sent 1-based as the `P` field. */
  readonly position?: number;
  readonly severity?: Severity;
}

export class SqlError extends Error {
  readonly code: SqlStateCode;
  readonly detail: string | undefined;
  readonly hint: string | undefined;
  readonly position: number | undefined;
  readonly severity: Severity;

  constructor(code: SqlStateCode, message: string, fields: SqlErrorFields = {}) {
    super(message);
    this.name = 'SqlError';
    this.code = code;
    this.detail = fields.detail;
    this.hint = fields.hint;
    this.position = fields.position;
    this.severity = fields.severity ?? 'ERROR';
  }

  /** The same error with its position moved by `offset` (statement → whole query string). */
  shifted(offset: number): SqlError {
    if (this.position === undefined || offset === 0) return this;
    return new SqlError(this.code, this.message, {
      detail: this.detail,
      hint: this.hint,
      position: this.position + offset,
      severity: this.severity,
    });
  }
}

/** Turn anything thrown into something safe to send: SqlErrors pass, the rest is hidden. */
export function toSqlError(err: unknown): SqlError {
  if (err instanceof SqlError) return err;
  return new SqlError(SqlState.internalError, 'internal error');
}

export function assertNever(value: never): never {
  throw new Error(`unexpected value: ${JSON.stringify(value)}`);
}
