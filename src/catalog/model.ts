/** The catalog's data model: what is stored for each item, and how it is rendered as SQL. */
import { quoteIdentAlways, quoteLiteral, REDACTED } from '../sql/printer.js';

export const DATABASE_NAME = 'materialize';
export const PUBLIC_SCHEMA_ID = 'u3';
export const PUBLIC_SCHEMA_NAME = 'public';
/** Schemas users can read but never create in. */
export const SYSTEM_SCHEMAS = ['mz_catalog', 'mz_internal', 'pg_catalog', 'information_schema'] as const;

export type ItemKind = 'secret' | 'connection';

/** A literal value or a reference to a secret by id. */
export type LiteralOrSecret = { readonly literal: string } | { readonly secret: string };

/** An AWS connection as stored in `items.definition` (field names are the view's columns). */
export interface AwsConnectionDef {
  readonly endpoint?: string;
  readonly region?: string;
  readonly access_key_id?: LiteralOrSecret;
  readonly secret_access_key?: string;
  readonly session_token?: LiteralOrSecret;
  readonly assume_role_arn?: string;
  readonly assume_role_session_name?: string;
}

/** A connection as written to the catalog: its definition, rendered SQL and the secrets it uses. */
export interface StoredConnection {
  readonly definition: AwsConnectionDef;
  readonly createSql: string;
  readonly redactedCreateSql: string;
  readonly dependsOn: readonly string[];
}

export interface CatalogItem {
  readonly id: string;
  readonly oid: number;
  readonly kind: ItemKind;
  readonly schemaId: string;
  readonly name: string;
  readonly ownerId: string;
  readonly definition: AwsConnectionDef | undefined;
}

/** `materialize.public.name`, as Materialize writes names in messages. */
export function fullName(name: string): string {
  return `${DATABASE_NAME}.${PUBLIC_SCHEMA_NAME}.${name}`;
}

export function quotedFullName(name: string): string {
  return [DATABASE_NAME, PUBLIC_SCHEMA_NAME, name].map(quoteIdentAlways).join('.');
}

/** Secret ids a connection definition refers to. */
export function referencedSecretIds(def: AwsConnectionDef): string[] {
  const ids = [def.secret_access_key];
  for (const v of [def.access_key_id, def.session_token]) if (v && 'secret' in v) ids.push(v.secret);
  return [...new Set(ids.filter((id): id is string => id !== undefined))];
}

/**
 * The canonical CREATE statement: fully qualified quoted names, options sorted by name,
 * `NAME = value`, secrets referenced by their current name (never their value).
 */
export function renderConnectionSql(
  name: string,
  def: AwsConnectionDef,
  secretName: (id: string) => string,
  redacted: boolean,
): string {
  const lit = (v: string): string => (redacted ? REDACTED : quoteLiteral(v));
  const secret = (id: string): string => `SECRET ${quotedFullName(secretName(id))}`;
  const either = (v: LiteralOrSecret): string => ('secret' in v ? secret(v.secret) : lit(v.literal));
  const options: [string, string][] = [];
  if (def.access_key_id) options.push(['ACCESS KEY ID', either(def.access_key_id)]);
  if (def.assume_role_arn !== undefined) options.push(['ASSUME ROLE ARN', lit(def.assume_role_arn)]);
  if (def.assume_role_session_name !== undefined) options.push(['ASSUME ROLE SESSION NAME', lit(def.assume_role_session_name)]);
  if (def.endpoint !== undefined) options.push(['ENDPOINT', lit(def.endpoint)]);
  if (def.region !== undefined) options.push(['REGION', lit(def.region)]);
  if (def.secret_access_key) options.push(['SECRET ACCESS KEY', secret(def.secret_access_key)]);
  if (def.session_token) options.push(['SESSION TOKEN', either(def.session_token)]);
  options.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `CREATE CONNECTION ${quotedFullName(name)} TO AWS (${options.map(([k, v]) => `${k} = ${v}`).join(', ')})`;
}
