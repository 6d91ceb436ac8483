/**
 * Session settings iamlink keeps per client (the engine is one shared session, docs/design.md §3).
 * Settings marked `engine` are applied with SET LOCAL around each of the client's queries.
 */
import { SqlError, SqlState } from '../errors.js';

export const SERVER_VERSION = '14.0';

export interface SettingSpec {
  /** How the setting is spelled in ParameterStatus and SHOW. */
  readonly display: string;
  readonly default: string;
  /** Sent as ParameterStatus at startup and when it changes. */
  readonly reported?: boolean;
  /** Applied in the engine with SET LOCAL for the client's queries. */
  readonly engine?: boolean;
  /** Not settable by clients. */
  readonly readOnly?: boolean;
  /** Normalise a new value, or throw a SqlError. */
  readonly check?: (value: string) => string;
}

const onlyUtf8 = (value: string): string => {
  if (!/^(utf-?8|unicode)$/i.test(value)) {
    throw new SqlError(SqlState.featureNotSupported, `client encoding "${value}" is not supported`, { hint: 'iamlink speaks UTF8 only.' });
  }
  return 'UTF8';
};

const onOff = (value: string): string => {
  if (/^(on|true|yes|1)$/i.test(value)) return 'on';
  if (/^(off|false|no|0)$/i.test(value)) return 'off';
  throw new SqlError(SqlState.invalidParameterValue, `parameter requires a Boolean value`);
};

const onlyOn = (value: string): string => {
  if (!/^(on|true|1)$/i.test(value)) throw new SqlError(SqlState.featureNotSupported, 'standard_conforming_strings must be on');
  return 'on';
};

export const SETTINGS: Record<string, SettingSpec> = {
  application_name: { display: 'application_name', default: '', reported: true, engine: true },
  client_encoding: { display: 'client_encoding', default: 'UTF8', reported: true, check: onlyUtf8 },
  datestyle: { display: 'DateStyle', default: 'ISO, MDY', reported: true, engine: true },
  intervalstyle: { display: 'IntervalStyle', default: 'postgres', reported: true, engine: true },
  timezone: { display: 'TimeZone', default: 'UTC', reported: true, engine: true },
  extra_float_digits: { display: 'extra_float_digits', default: '1', engine: true },
  bytea_output: { display: 'bytea_output', default: 'hex', engine: true },
  search_path: { display: 'search_path', default: 'public' },
  standard_conforming_strings: { display: 'standard_conforming_strings', default: 'on', reported: true, check: onlyOn },
  client_min_messages: { display: 'client_min_messages', default: 'notice' },
  // The effective value is the session's (Session.statementTimeoutMs): at most the server's maximum.
  statement_timeout: { display: 'statement_timeout', default: '0', check: (v) => String(parseDuration(v, 'statement_timeout')) },
  lock_timeout: { display: 'lock_timeout', default: '0' },
  idle_in_transaction_session_timeout: { display: 'idle_in_transaction_session_timeout', default: '0' },
  transaction_isolation: { display: 'transaction_isolation', default: 'read committed' },
  default_transaction_isolation: { display: 'default_transaction_isolation', default: 'read committed' },
  // Effective value from the session (Session.readOnly); SET TRANSACTION READ ONLY sets it.
  transaction_read_only: { display: 'transaction_read_only', default: 'off', check: onOff },
  default_transaction_read_only: { display: 'default_transaction_read_only', default: 'off', check: onOff },
  integer_datetimes: { display: 'integer_datetimes', default: 'on', reported: true, readOnly: true },
  server_version: { display: 'server_version', default: SERVER_VERSION, reported: true, readOnly: true },
  server_encoding: { display: 'server_encoding', default: 'UTF8', reported: true, readOnly: true },
  is_superuser: { display: 'is_superuser', default: 'off', reported: true, readOnly: true },
  session_authorization: { display: 'session_authorization', default: '', reported: true, readOnly: true },
  // SET ROLE's role ('none': the session user); set by SET ROLE / RESET ROLE only (the executor).
  role: { display: 'role', default: 'none', readOnly: true },
  // Harmless settings some drivers send; accepted and kept.
  geqo: { display: 'geqo', default: 'on' },
  jit: { display: 'jit', default: 'off' },
};

const UNITS: Record<string, number> = { us: 0.001, ms: 1, s: 1000, min: 60_000, h: 3_600_000, d: 86_400_000 };

/** A duration setting's value in ms, as PostgreSQL reads it: a number of ms, or with a unit ('5s', '1min'). */
export function parseDuration(value: string, name: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(us|ms|s|min|h|d)?\s*$/.exec(value);
  if (!m) {
    throw new SqlError(SqlState.invalidParameterValue, `invalid value for parameter "${name}": "${value}"`, {
      hint: 'Valid units for this parameter are "us", "ms", "s", "min", "h", and "d".',
    });
  }
  return Math.round(Number(m[1]) * UNITS[m[2] ?? 'ms']!);
}

/** A duration in ms the way PostgreSQL shows it (SHOW statement_timeout → 30s). */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0';
  for (const [unit, size] of [['d', 86_400_000], ['h', 3_600_000], ['min', 60_000], ['s', 1000]] as const) {
    if (ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}

/** Look up a setting by any spelling; unknown names are 42704 like PostgreSQL. */
export function settingSpec(name: string): SettingSpec {
  const spec = SETTINGS[name.toLowerCase()];
  if (!spec) throw new SqlError(SqlState.undefinedObject, `unrecognized configuration parameter "${name}"`);
  return spec;
}

/** Split a search_path value into schema names ("a, \"B\"" → [a, B]). */
export function parseSearchPath(value: string): string[] {
  return value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0)
    .map((s) => (s.startsWith('"') && s.endsWith('"') ? s.slice(1, -1).replace(/""/g, '"') : s.toLowerCase()));
}
