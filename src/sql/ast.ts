/**
 * The syntax tree of our own statements. The parser only records what was written (with
 * positions); the planner decides what is legal.
 */

/** An identifier as written: unquoted ones are lower-cased, quoted ones kept verbatim. */
export interface Ident {
  readonly value: string;
  readonly pos: number;
}

/** `name`, `schema.name` or `database.schema.name`. */
export interface ObjectName {
  readonly parts: readonly Ident[];
  readonly pos: number;
}

export type OptionValue =
  | { readonly kind: 'string'; readonly value: string; readonly pos: number }
  | { readonly kind: 'number'; readonly value: string; readonly pos: number }
  | { readonly kind: 'boolean'; readonly value: boolean; readonly pos: number }
  | { readonly kind: 'word'; readonly value: string; readonly pos: number }
  | { readonly kind: 'secret'; readonly name: ObjectName; readonly pos: number }
  /** A secret's value written as an expression (decode('...', 'base64')): evaluated before planning. */
  | { readonly kind: 'expression'; readonly sql: string; readonly pos: number }
  /** $n: a bind parameter of the extended protocol, replaced by its value before planning. */
  | { readonly kind: 'param'; readonly index: number; readonly pos: number };

/** Every connection option name the parser knows, for all connection types. */
export const CONNECTION_OPTION_NAMES = [
  'ACCESS KEY ID',
  'ASSUME ROLE ARN',
  'ASSUME ROLE SESSION NAME',
  'AVAILABILITY ZONES',
  'AWS CONNECTION',
  'AWS PRIVATELINK',
  'BROKER',
  'BROKERS',
  'DATABASE',
  'ENDPOINT',
  'HOST',
  'PASSWORD',
  'PORT',
  'PROGRESS TOPIC',
  'REGION',
  'SASL MECHANISMS',
  'SASL PASSWORD',
  'SASL USERNAME',
  'SECRET ACCESS KEY',
  'SECURITY PROTOCOL',
  'SERVICE NAME',
  'SESSION TOKEN',
  'SSH TUNNEL',
  'SSL CERTIFICATE',
  'SSL CERTIFICATE AUTHORITY',
  'SSL KEY',
  'SSL MODE',
  'URL',
  'USER',
] as const;

export type ConnectionOptionName = (typeof CONNECTION_OPTION_NAMES)[number];

export interface ConnectionOption {
  readonly name: ConnectionOptionName;
  /** Absent when written as a bare name (`RESET (REGION)`). */
  readonly value: OptionValue | undefined;
  readonly pos: number;
}

export interface WithOption {
  readonly name: string; // upper-case, e.g. VALIDATE
  readonly value: OptionValue | undefined;
  readonly pos: number;
}

export type ObjectType = 'SECRET' | 'CONNECTION';

export type AlterConnectionAction =
  | { readonly kind: 'set'; readonly option: ConnectionOption }
  | { readonly kind: 'drop'; readonly name: ConnectionOptionName; readonly pos: number };

/** A role attribute as written in CREATE/ALTER ROLE: `LOGIN`, `NOLOGIN`, `PASSWORD 'p'`, `PASSWORD NULL`, ... */
export type RoleAttribute =
  | { readonly kind: 'flag'; readonly name: string; readonly value: boolean; readonly pos: number }
  | { readonly kind: 'password'; readonly value: OptionValue; readonly pos: number };

/** A grantee: a role by name, or PUBLIC. */
export type Grantee = { readonly kind: 'public'; readonly pos: number } | { readonly kind: 'role'; readonly name: Ident };

/** Privileges as written: a list of names, or ALL [PRIVILEGES]. */
export type PrivilegeList = { readonly kind: 'all'; readonly pos: number } | { readonly kind: 'list'; readonly names: readonly Ident[] };

/** What GRANT/REVOKE privileges apply to. */
export type PrivilegeTarget =
  | { readonly kind: 'objects'; readonly objectType: 'SECRET' | 'CONNECTION' | 'SCHEMA' | 'DATABASE' | 'TABLE' | 'CLUSTER' | 'TYPE'; readonly names: readonly ObjectName[]; readonly pos: number }
  | { readonly kind: 'all_in_schema'; readonly objectType: 'SECRETS' | 'CONNECTIONS'; readonly schemas: readonly ObjectName[]; readonly pos: number }
  /** ON SYSTEM: system privileges (CREATEROLE), Materialize's GRANT CREATEROLE ON SYSTEM TO r. */
  | { readonly kind: 'system'; readonly pos: number };

export type Statement =
  | {
      readonly kind: 'create_secret';
      readonly ifNotExists: boolean;
      readonly name: ObjectName;
      readonly value: OptionValue;
    }
  | {
      readonly kind: 'alter_secret';
      readonly ifExists: boolean;
      readonly name: ObjectName;
      readonly value: OptionValue;
    }
  | {
      readonly kind: 'rename';
      readonly objectType: ObjectType;
      readonly ifExists: boolean;
      readonly name: ObjectName;
      readonly newName: Ident;
    }
  | {
      readonly kind: 'drop_objects';
      readonly objectType: ObjectType;
      readonly ifExists: boolean;
      readonly names: readonly ObjectName[];
      readonly cascade: boolean;
    }
  | {
      readonly kind: 'create_connection';
      readonly ifNotExists: boolean;
      readonly name: ObjectName;
      readonly connectionType: Ident; // lower-cased type word, e.g. "aws"
      readonly options: readonly ConnectionOption[];
      readonly withOptions: readonly WithOption[];
    }
  | {
      readonly kind: 'alter_connection';
      readonly ifExists: boolean;
      readonly name: ObjectName;
      readonly actions: readonly AlterConnectionAction[];
      readonly withOptions: readonly WithOption[];
    }
  | { readonly kind: 'validate_connection'; readonly name: ObjectName }
  | {
      readonly kind: 'show_objects';
      readonly objectType: 'CONNECTIONS' | 'SECRETS' | 'ROLES';
      readonly schema: ObjectName | undefined;
      readonly filter: ShowFilter | undefined;
    }
  | { readonly kind: 'show_create_connection'; readonly redacted: boolean; readonly name: ObjectName }
  | { readonly kind: 'create_role'; readonly name: Ident; readonly attributes: readonly RoleAttribute[]; readonly user: boolean }
  | { readonly kind: 'alter_role'; readonly name: Ident; readonly attributes: readonly RoleAttribute[] }
  | { readonly kind: 'drop_roles'; readonly ifExists: boolean; readonly names: readonly Ident[] }
  /** COMMENT ON ROLE name IS {'text' | NULL} */
  | { readonly kind: 'comment_role'; readonly name: Ident; readonly comment: { readonly value: string; readonly pos: number } | null }
  /** REASSIGN OWNED BY role [, ...] TO role / DROP OWNED BY role [, ...] [CASCADE | RESTRICT] */
  | { readonly kind: 'owned'; readonly action: 'reassign' | 'drop'; readonly roles: readonly Ident[]; readonly to: Ident | undefined; readonly cascade: boolean }
  /** GRANT role [, ...] TO member [, ...] / REVOKE role [, ...] FROM member [, ...] */
  | { readonly kind: 'role_membership'; readonly grant: boolean; readonly roles: readonly Ident[]; readonly members: readonly Ident[] }
  /** GRANT privileges ON target TO grantees / REVOKE privileges ON target FROM grantees */
  | { readonly kind: 'privileges'; readonly grant: boolean; readonly privileges: PrivilegeList; readonly target: PrivilegeTarget; readonly grantees: readonly Grantee[] }
  | { readonly kind: 'alter_owner'; readonly objectType: ObjectType; readonly ifExists: boolean; readonly name: ObjectName; readonly owner: Ident }
  /** ALTER DEFAULT PRIVILEGES [FOR ROLE r, ... | FOR ALL ROLES] [IN SCHEMA s, ...] {GRANT ... TO | REVOKE ... FROM} */
  | {
      readonly kind: 'alter_default_privileges';
      readonly forRoles: readonly Ident[] | 'all' | undefined;
      readonly schemas: readonly ObjectName[] | undefined;
      readonly grant: boolean;
      readonly privileges: PrivilegeList;
      readonly objectType: { readonly value: string; readonly pos: number };
      readonly grantees: readonly Grantee[];
    }
  | {
      readonly kind: 'comment';
      readonly objectType: ObjectType;
      readonly name: ObjectName;
      /** The new comment; null removes it (`IS NULL`). */
      readonly comment: { readonly value: string; readonly pos: number } | null;
    };

/**
 * `SHOW ... LIKE 'pattern'` or `SHOW ... WHERE expr`. The expression is kept as the text the user
 * wrote: the parser is syntactic, and the engine's own parser (through the read-only gate) checks it.
 */
export type ShowFilter =
  | { readonly kind: 'like'; readonly pattern: string; readonly pos: number }
  | { readonly kind: 'where'; readonly expr: string; readonly pos: number };

