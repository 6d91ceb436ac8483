/**
 * One client's session: who it is, its settings, its transaction status, and its prepared
 * statements and portals. Nothing here touches the engine.
 */
import { SqlError, SqlState } from '../errors.js';
import { quoteLiteral } from '../sql/printer.js';
import { parseSearchPath, settingSpec, SETTINGS } from './settings.js';

/** ReadyForQuery status: idle, in a transaction block, in a failed transaction block. */
export type TransactionStatus = 'I' | 'T' | 'E';

/** Schemas searched before the user's own path, the way Materialize resolves mz_catalog. */
const IMPLICIT_SCHEMAS = ['mz_catalog', 'mz_internal'];

export class Session {
  transactionStatus: TransactionStatus = 'I';
  private readonly values = new Map<string, string>();
  private settingsCache: string | undefined;

  constructor(
    readonly id: number,
    readonly user: string,
    readonly database: string,
    readonly roleId: string,
    private readonly statementTimeoutMs: number,
  ) {}

  get(name: string): string {
    const key = name.toLowerCase();
    if (key === 'session_authorization') return this.user;
    return this.values.get(key) ?? settingSpec(key).default;
  }

  /** Set (or with `undefined`, reset) a setting; returns the display name if it is reported. */
  set(name: string, value: string | undefined): string | undefined {
    const key = name.toLowerCase();
    const spec = settingSpec(key);
    if (spec.readOnly) throw new SqlError(SqlState.insufficientPrivilege, `parameter "${key}" cannot be changed`);
    if (value === undefined) this.values.delete(key);
    else this.values.set(key, spec.check ? spec.check(value) : value);
    this.settingsCache = undefined;
    return spec.reported ? spec.display : undefined;
  }

  resetAll(): string[] {
    const reported = [...this.values.keys()].filter((k) => SETTINGS[k]?.reported).map((k) => SETTINGS[k]!.display);
    this.values.clear();
    this.settingsCache = undefined;
    return reported;
  }

  searchPath(): string[] {
    return parseSearchPath(this.get('search_path'));
  }

  /**
   * SQL that puts the engine session in this client's state: read-only by default, its
   * settings, and last its own engine role (which can read the system views and pg_catalog
   * and nothing in iamlink_internal). The store applies it when another state was in force.
   */
  engineSettings(): string {
    if (this.settingsCache !== undefined) return this.settingsCache;
    const path = [...IMPLICIT_SCHEMAS, ...this.searchPath().filter((s) => !IMPLICIT_SCHEMAS.includes(s))];
    const settings: [string, string][] = [
      ['default_transaction_read_only', 'on'],
      ['iamlink.login_user', this.user],
      ['search_path', path.map((s) => `"${s.replace(/"/g, '""')}"`).join(', ')],
      ['statement_timeout', String(this.statementTimeoutMs)],
    ];
    for (const [key, value] of this.values) {
      if (SETTINGS[key]?.engine) settings.push([key, value]);
    }
    settings.push(['role', this.user]);
    this.settingsCache = `SELECT ${settings.map(([k, v]) => `set_config(${quoteLiteral(k)}, ${quoteLiteral(v)}, false)`).join(', ')}`;
    return this.settingsCache;
  }
}
