/**
 * The syntax and text shapes that follow Materialize (docs/compat.md, "Catalog text, SHOW and
 * COMMENT ON"): COMMENT ON, SHOW ... LIKE / WHERE, and the four forms of a connection's CREATE
 * statement.
 */
import { describe, expect, it } from 'vitest';
import { renderConnectionSql, type AwsConnectionDef } from '../../src/catalog/model.js';
import { SqlError } from '../../src/errors.js';
import { isOwnStatement, parseStatement } from '../../src/sql/parser.js';
import { printStatement, quoteIdentSimple } from '../../src/sql/printer.js';
import { tokenize } from '../../src/sql/lexer.js';

function errorOf(sql: string): { code: string; message: string; position: number | undefined } {
  try {
    parseStatement(sql);
  } catch (err) {
    if (err instanceof SqlError) return { code: err.code, message: err.message, position: err.position };
    throw err;
  }
  throw new Error(`expected ${sql} to fail`);
}

/** Parse, print, and check the printed form parses back to the same statement. */
function roundTrip(sql: string): string {
  const printed = printStatement(parseStatement(sql));
  expect(printStatement(parseStatement(printed))).toBe(printed);
  return printed;
}

describe('COMMENT ON', () => {
  it('is ours for connections and secrets only; other objects go to the gate', () => {
    expect(isOwnStatement(tokenize("COMMENT ON CONNECTION c IS 'x'"))).toBe(true);
    expect(isOwnStatement(tokenize("comment on secret s is null"))).toBe(true);
    expect(isOwnStatement(tokenize("COMMENT ON TABLE t IS 'x'"))).toBe(false);
    expect(isOwnStatement(tokenize("COMMENT ON COLUMN t.c IS 'x'"))).toBe(false);
  });

  it('takes a string or NULL, and prints back the same', () => {
    expect(parseStatement("COMMENT ON CONNECTION materialize.public.c IS 'it''s ours'")).toEqual({
      kind: 'comment',
      objectType: 'CONNECTION',
      name: { parts: [{ value: 'materialize', pos: 22 }, { value: 'public', pos: 34 }, { value: 'c', pos: 41 }], pos: 22 },
      comment: { value: "it's ours", pos: 46 },
    });
    expect(roundTrip("COMMENT ON CONNECTION materialize.public.c IS 'it''s ours'")).toBe("COMMENT ON CONNECTION materialize.public.c IS 'it''s ours'");
    expect(roundTrip('comment on secret "Mixed" is null')).toBe('COMMENT ON SECRET "Mixed" IS NULL');
    expect(parseStatement('COMMENT ON SECRET s IS NULL')).toMatchObject({ comment: null });
  });

  it('never prints the comment in redacted mode', () => {
    expect(printStatement(parseStatement("COMMENT ON SECRET s IS 'private note'"), { redacted: true })).toBe("COMMENT ON SECRET s IS '<REDACTED>'");
  });

  it("refuses what Materialize's grammar refuses, at the offending token", () => {
    expect(errorOf('COMMENT ON CONNECTION c')).toEqual({ code: '42601', message: 'Expected IS, found end of input', position: 23 });
    expect(errorOf('COMMENT ON CONNECTION c IS 42')).toEqual({ code: '42601', message: 'Expected a string literal or NULL, found number "42"', position: 27 });
    expect(errorOf("COMMENT ON CONNECTION c IS 'a' 'b'")).toEqual({ code: '42601', message: 'Expected end of statement, found string literal', position: 31 });
  });
});

describe('SHOW CONNECTIONS / SHOW SECRETS filters', () => {
  it('take LIKE with a string pattern', () => {
    expect(parseStatement("SHOW CONNECTIONS LIKE 'aws%'")).toEqual({
      kind: 'show_objects',
      objectType: 'CONNECTIONS',
      schema: undefined,
      filter: { kind: 'like', pattern: 'aws%', pos: 22 },
    });
    expect(roundTrip("show secrets from public like 'a_b'")).toBe("SHOW SECRETS FROM public LIKE 'a_b'");
    expect(errorOf('SHOW SECRETS LIKE name')).toMatchObject({ code: '42601', message: 'Expected a string literal, found identifier "name"', position: 18 });
  });

  it('keep a WHERE expression as written, to the end of the statement', () => {
    const sql = "SHOW CONNECTIONS WHERE type = 'aws' AND (name LIKE 'a%' OR comment <> '') ";
    expect(parseStatement(sql)).toMatchObject({ filter: { kind: 'where', expr: "type = 'aws' AND (name LIKE 'a%' OR comment <> '')", pos: 23 } });
    expect(roundTrip(sql)).toBe("SHOW CONNECTIONS WHERE type = 'aws' AND (name LIKE 'a%' OR comment <> '')");
  });

  it('print a WHERE expression without its literals in redacted mode', () => {
    const stmt = parseStatement("SHOW SECRETS WHERE name = 'secret-name' AND length(\"name\") > 3");
    expect(printStatement(stmt, { redacted: true })).toBe(`SHOW SECRETS WHERE name = '<REDACTED>' and length ( "name" ) > '<REDACTED>'`);
    expect(printStatement(parseStatement("SHOW SECRETS LIKE 'x%'"), { redacted: true })).toBe("SHOW SECRETS LIKE '<REDACTED>'");
  });

  it('refuse a WHERE expression that would close the query it is placed in', () => {
    expect(errorOf('SHOW SECRETS WHERE true) UNION (SELECT 1')).toEqual({ code: '42601', message: 'unbalanced ")" in WHERE expression', position: 23 });
    expect(errorOf('SHOW SECRETS WHERE (true')).toEqual({ code: '42601', message: 'Expected ")", found end of input', position: 24 });
    expect(errorOf('SHOW SECRETS WHERE')).toEqual({ code: '42601', message: 'Expected an expression, found end of input', position: 18 });
  });
});

describe("identifiers in Materialize's simple format", () => {
  it('are bare when lower-case words that are not sometimes-reserved keywords', () => {
    expect(['materialize', 'public', 'aws_conn', '_x1', 'connection', 'table'].map(quoteIdentSimple)).toEqual(['materialize', 'public', 'aws_conn', '_x1', 'connection', 'table']);
    expect(['Mixed', 'has space', '1st', 'a$b', 'select', 'on', 'year', 'we"ird'].map(quoteIdentSimple)).toEqual([
      '"Mixed"',
      '"has space"',
      '"1st"',
      '"a$b"',
      '"select"',
      '"on"',
      '"year"',
      '"we""ird"',
    ]);
  });
});

describe("a connection's CREATE statement", () => {
  const names: Record<string, string> = { u1: 'aws_secret', u2: 'Token Secret' };
  const secretName = (id: string): string => names[id]!;
  const keys: AwsConnectionDef = {
    access_key_id: { literal: 'AKIAIOSFODNN7EXAMPLE' },
    secret_access_key: 'u1',
    session_token: { literal: "tok'en" },
    region: 'us-east-1',
  };
  const role: AwsConnectionDef = { assume_role_arn: 'arn:aws:iam::001234567890:role/Customer', assume_role_session_name: 'sess', endpoint: 'https://sts.example.com' };

  it('in mz_connections.create_sql: stable format, secrets by id and name', () => {
    expect(renderConnectionSql('aws_keys', keys, secretName, 'catalog')).toBe(
      `CREATE CONNECTION "materialize"."public"."aws_keys" TO AWS (ACCESS KEY ID = 'AKIAIOSFODNN7EXAMPLE', REGION = 'us-east-1', ` +
        `SECRET ACCESS KEY = SECRET [u1 AS "materialize"."public"."aws_secret"], SESSION TOKEN = 'tok''en')`,
    );
    expect(renderConnectionSql('Role', role, secretName, 'catalog')).toBe(
      `CREATE CONNECTION "materialize"."public"."Role" TO AWS (ASSUME ROLE ARN = 'arn:aws:iam::001234567890:role/Customer', ` +
        `ASSUME ROLE SESSION NAME = 'sess', ENDPOINT = 'https://sts.example.com')`,
    );
  });

  it('in mz_connections.redacted_create_sql: simple format, option values kept but an in-line session token', () => {
    expect(renderConnectionSql('aws_keys', keys, secretName, 'catalog_redacted')).toBe(
      `CREATE CONNECTION materialize.public.aws_keys TO AWS (ACCESS KEY ID = 'AKIAIOSFODNN7EXAMPLE', REGION = 'us-east-1', ` +
        `SECRET ACCESS KEY = SECRET [u1 AS materialize.public.aws_secret], SESSION TOKEN = '<REDACTED>')`,
    );
    expect(renderConnectionSql('Role', role, secretName, 'catalog_redacted')).toBe(
      `CREATE CONNECTION materialize.public."Role" TO AWS (ASSUME ROLE ARN = 'arn:aws:iam::001234567890:role/Customer', ` +
        `ASSUME ROLE SESSION NAME = 'sess', ENDPOINT = 'https://sts.example.com')`,
    );
  });

  it('in SHOW [REDACTED] CREATE CONNECTION: names for ids and a closing semicolon', () => {
    const withSecretToken: AwsConnectionDef = { ...keys, access_key_id: { secret: 'u2' }, session_token: { secret: 'u2' } };
    expect(renderConnectionSql('aws_keys', withSecretToken, secretName, 'show')).toBe(
      `CREATE CONNECTION materialize.public.aws_keys TO AWS (ACCESS KEY ID = SECRET materialize.public."Token Secret", REGION = 'us-east-1', ` +
        `SECRET ACCESS KEY = SECRET materialize.public.aws_secret, SESSION TOKEN = SECRET materialize.public."Token Secret");`,
    );
    expect(renderConnectionSql('aws_keys', keys, secretName, 'show_redacted')).toBe(
      `CREATE CONNECTION materialize.public.aws_keys TO AWS (ACCESS KEY ID = 'AKIAIOSFODNN7EXAMPLE', REGION = 'us-east-1', ` +
        `SECRET ACCESS KEY = SECRET materialize.public.aws_secret, SESSION TOKEN = '<REDACTED>');`,
    );
  });
});
