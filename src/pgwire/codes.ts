/** Protocol message type bytes (PostgreSQL protocol 3.0). */

export const FrontendCode = {
  query: 0x51, // 'Q'
  parse: 0x50, // 'P'
  bind: 0x42, // 'B'
  describe: 0x44, // 'D'
  execute: 0x45, // 'E'
  close: 0x43, // 'C'
  sync: 0x53, // 'S'
  flush: 0x48, // 'H'
  terminate: 0x58, // 'X'
  password: 0x70, // 'p'
  copyData: 0x64, // 'd'
  copyDone: 0x63, // 'c'
  copyFail: 0x66, // 'f'
  functionCall: 0x46, // 'F'
} as const;

export const BackendCode = {
  authentication: 0x52, // 'R'
  parameterStatus: 0x53, // 'S'
  backendKeyData: 0x4b, // 'K'
  readyForQuery: 0x5a, // 'Z'
  commandComplete: 0x43, // 'C'
  emptyQueryResponse: 0x49, // 'I'
  errorResponse: 0x45, // 'E'
  noticeResponse: 0x4e, // 'N'
  rowDescription: 0x54, // 'T'
  dataRow: 0x44, // 'D'
  parseComplete: 0x31, // '1'
  bindComplete: 0x32, // '2'
  closeComplete: 0x33, // '3'
  noData: 0x6e, // 'n'
  parameterDescription: 0x74, // 't'
  portalSuspended: 0x73, // 's'
} as const;

/** Request codes sent in place of a protocol version in the first message. */
export const StartupCode = {
  protocol3: 196608,
  sslRequest: 80877103,
  gssEncRequest: 80877104,
  cancelRequest: 80877102,
} as const;

/** Error and notice field tags. */
export const ErrorField = {
  severity: 0x53, // 'S'
  severityNonLocalized: 0x56, // 'V'
  code: 0x43, // 'C'
  message: 0x4d, // 'M'
  detail: 0x44, // 'D'
  hint: 0x48, // 'H'
  position: 0x50, // 'P'
} as const;

/** Largest startup packet (PostgreSQL's own limit). */
export const MAX_STARTUP_BYTES = 10_000;

export const TEXT_OID = 25;
