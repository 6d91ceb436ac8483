/** The catalog's data model: what is stored for each item, and how it is rendered as SQL. */
import { quoteIdentAlways, quoteIdentSimple, quoteLiteral, REDACTED } from '../sql/printer.js';

export const DATABASE_NAME = 'materialize';
export const PUBLIC_SCHEMA_ID = 'u3';
export const PUBLIC_SCHEMA_NAME = 'public';
/** Schemas users can read but never create in. */
export const SYSTEM_SCHEMAS = ['mz_catalog', 'mz_internal', 'pg_catalog', 'information_schema'] as const;

export type ItemKind = 'secret' | 'connection';

/**
 * Role names no one may create or log in as: PostgreSQL's reserved words and prefixes, the
 * engine roles iamlink relies on, and Materialize's system prefix.
 */
export const RESERVED_ROLE_NAMES = /^(postgres|public|none|current_user|current_role|session_user|pg_.*|iamlink_.*|mz_.*)$/i;

/** PUBLIC: the role every role is a member of (Materialize's id). */
export const PUBLIC_ROLE_ID = 'p';
/** mz_system: the owner of the database and its schemas. */
export const SYSTEM_ROLE_ID = 's1';

/** A role and its attributes. */
export interface RoleRecord {
  readonly id: string;
  readonly name: string;
  readonly login: boolean;
  readonly superuser: boolean;
  readonly createrole: boolean;
  readonly inherit: boolean;
}

/**
 * One entry of an ACL: what `grantee` (a role id, PUBLIC_ROLE_ID for PUBLIC) holds, as
 * Materialize's privilege letters (U usage, C create). The grantor is always the object's owner.
 */
export interface AclEntry {
  readonly grantee: string;
  readonly privileges: string;
}

/**
 * Who is acting, as the catalog sees it at the statement: the current role, the roles whose
 * privileges it holds (itself, those it inherits from, PUBLIC), and every role it is a member of
 * (which it may SET ROLE to or act for as owner, inherited or not).
 */
export interface Authority {
  readonly role: RoleRecord;
  readonly held: ReadonlySet<string>;
  readonly memberOf: ReadonlySet<string>;
}

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
  readonly privileges: readonly AclEntry[];
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
 * The forms a connection's CREATE statement takes, as Materialize writes them:
 * - `catalog`: `mz_connections.create_sql`, the stable format: every identifier double-quoted, a
 *   secret referenced by id and name (`SECRET [u1 AS "materialize"."public"."s"]`).
 * - `catalog_redacted`: `mz_connections.redacted_create_sql`, the same statement in the simple
 *   redacted format: identifiers bare where they can be.
 * - `show` / `show_redacted`: what SHOW [REDACTED] CREATE CONNECTION answers: the simple format
 *   with names in place of ids (`SECRET materialize.public.s`) and a closing semicolon.
 *
 * Materialize redacts no connection option value (every `ConnectionOptionName::redact_value` is
 * false): ARNs, regions, endpoints and access key ids show in the redacted forms too. iamlink
 * redacts one more thing on purpose: a SESSION TOKEN given in line is a live credential.
 * Options are in a fixed order (alphabetical); Materialize keeps the order they were written in.
 */
export type ConnectionSqlForm = 'catalog' | 'catalog_redacted' | 'show' | 'show_redacted';

/** The CREATE statement of connection `name` in `form`; `secretName` names a secret by id. */
export function renderConnectionSql(name: string, def: AwsConnectionDef, secretName: (id: string) => string, form: ConnectionSqlForm): string {
  const stable = form === 'catalog';
  const redacted = form === 'catalog_redacted' || form === 'show_redacted';
  const quote = stable ? quoteIdentAlways : quoteIdentSimple;
  const qualified = (item: string): string => [DATABASE_NAME, PUBLIC_SCHEMA_NAME, item].map(quote).join('.');
  const secret = (id: string): string => (form === 'catalog' || form === 'catalog_redacted' ? `SECRET [${id} AS ${qualified(secretName(id))}]` : `SECRET ${qualified(secretName(id))}`);
  const either = (v: LiteralOrSecret, hide = false): string => ('secret' in v ? secret(v.secret) : hide ? REDACTED : quoteLiteral(v.literal));
  const options: [string, string | undefined][] = [
    ['ACCESS KEY ID', def.access_key_id && either(def.access_key_id)],
    ['ASSUME ROLE ARN', def.assume_role_arn === undefined ? undefined : quoteLiteral(def.assume_role_arn)],
    ['ASSUME ROLE SESSION NAME', def.assume_role_session_name === undefined ? undefined : quoteLiteral(def.assume_role_session_name)],
    ['ENDPOINT', def.endpoint === undefined ? undefined : quoteLiteral(def.endpoint)],
    ['REGION', def.region === undefined ? undefined : quoteLiteral(def.region)],
    ['SECRET ACCESS KEY', def.secret_access_key && secret(def.secret_access_key)],
    ['SESSION TOKEN', def.session_token && either(def.session_token, redacted)],
  ];
  const body = options
    .filter((o): o is [string, string] => o[1] !== undefined)
    .map(([k, v]) => `${k} = ${v}`)
    .join(', ');
  const sql = `CREATE CONNECTION ${qualified(name)} TO AWS (${body})`;
  return form === 'show' || form === 'show_redacted' ? `${sql};` : sql;
}
