import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { catalogSnapshot, errorOf, startTestServer, type TestServer } from '../support/server.js';

/** [statement, SQLSTATE, message] — each must fail exactly so and leave the catalog alone. */
const FAILURES: [string, string, string][] = [
  ["CREATE CONNECTION c TO AWS (REGION = 'us-east-1', REGION = 'us-east-2', ASSUME ROLE ARN = 'arn:aws:iam::001234567890:role/R')", '42601', 'REGION specified more than once'],
  ["CREATE CONNECTION c TO AWS (HOST = 'example.com')", '42601', 'AWS connections do not support HOST values'],
  ["CREATE CONNECTION c TO AWS (ACCESS KEY ID = 'AKIA')", '22023', 'must specify both ACCESS KEY ID and SECRET ACCESS KEY with optional SESSION TOKEN'],
  ['CREATE CONNECTION c TO AWS (SECRET ACCESS KEY = SECRET s)', '22023', 'must specify both ACCESS KEY ID and SECRET ACCESS KEY with optional SESSION TOKEN'],
  ["CREATE CONNECTION c TO AWS (SESSION TOKEN = 'tok')", '22023', 'must specify both ACCESS KEY ID and SECRET ACCESS KEY with optional SESSION TOKEN'],
  ["CREATE CONNECTION c TO AWS (ASSUME ROLE SESSION NAME = 'sess')", '22023', 'must specify ASSUME ROLE ARN with optional ASSUME ROLE SESSION NAME'],
  ["CREATE CONNECTION c TO AWS (REGION = 'us-east-1')", '22023', 'must specify either ASSUME ROLE ARN or ACCESS KEY ID and SECRET ACCESS KEY'],
  ["CREATE CONNECTION c TO AWS (ACCESS KEY ID = 'AKIA', SECRET ACCESS KEY = SECRET s, ASSUME ROLE ARN = 'arn:aws:iam::001234567890:role/R')", '22023', 'cannot specify both ACCESS KEY ID and ASSUME ROLE ARN'],
  ["CREATE CONNECTION c TO AWS (ACCESS KEY ID = 'AKIA', SECRET ACCESS KEY = 'plain')", '22023', 'invalid SECRET ACCESS KEY: must provide a secret value'],
  ["CREATE CONNECTION c TO AWS (ACCESS KEY ID = 'AKIA', SECRET ACCESS KEY = SECRET x)", '42704', "unknown catalog item 'x'"],
  ["CREATE CONNECTION c TO AWS (ACCESS KEY ID = 'AKIA', SECRET ACCESS KEY = SECRET t)", '42809', 'materialize.public.t is not a secret'],
  ["CREATE CONNECTION t TO AWS (ASSUME ROLE ARN = 'arn:aws:iam::001234567890:role/R')", '42710', 'connection "materialize.public.t" already exists'],
  ["CREATE CONNECTION s TO AWS (ASSUME ROLE ARN = 'arn:aws:iam::001234567890:role/R')", '42710', 'secret "materialize.public.s" already exists'],
  ["CREATE SECRET s AS 'again'", '42710', 'secret "materialize.public.s" already exists'],
  ["CREATE CONNECTION c TO AWS (ASSUME ROLE ARN = 'arn:aws:iam::1234:role/R')", '22023', 'invalid ASSUME ROLE ARN: not an IAM role ARN'],
  ["CREATE CONNECTION c TO AWS (ASSUME ROLE ARN = 'arn:aws:iam::001234567890:user/R')", '22023', 'invalid ASSUME ROLE ARN: not an IAM role ARN'],
  ["CREATE CONNECTION c TO AWS (ASSUME ROLE ARN = 'arn:aws:iam::001234567890:role/R', REGION = 'moon-1')", '22023', 'invalid REGION: not an AWS region name'],
  ["CREATE CONNECTION c TO AWS (ASSUME ROLE ARN = 'arn:aws:iam::001234567890:role/R', ENDPOINT = 'ftp://x')", '22023', 'invalid ENDPOINT: not an http(s) URL'],
  ["CREATE CONNECTION c TO AWS (ASSUME ROLE ARN = 'arn:aws:iam::001234567890:role/R', ENDPOINT = 'https://user:pw@sts.example.com')", '22023', 'invalid ENDPOINT: not an http(s) URL'],
  ["CREATE CONNECTION c TO AWS (ASSUME ROLE ARN = 'arn:aws:iam::001234567890:role/R', ASSUME ROLE SESSION NAME = 'x')", '22023', 'invalid ASSUME ROLE SESSION NAME: must be 2 to 64 characters of letters, digits and +=,.@_-'],
  ["CREATE CONNECTION c TO AWS (ASSUME ROLE ARN = 'arn:aws:iam::001234567890:role/R', ASSUME ROLE SESSION NAME = 'has space')", '22023', 'invalid ASSUME ROLE SESSION NAME: must be 2 to 64 characters of letters, digits and +=,.@_-'],
  ["CREATE CONNECTION c TO AWS (ROLE ARN = 'arn:aws:iam::001234567890:role/R')", '42601', 'ROLE ARN is no longer supported: use ASSUME ROLE ARN'],
  ["CREATE CONNECTION c TO AWS (ACCESS KEY ID = 'a', SECRET ACCESS KEY = SECRET s, TOKEN = 'x')", '42601', 'TOKEN is no longer supported: use SESSION TOKEN'],
  ["CREATE CONNECTION c TO KAFKA (BROKER = 'x:9092')", '0A000', 'KAFKA connections are not supported'],
  ["CREATE CONNECTION c TO AWS (ASSUME ROLE ARN = 'arn:aws:iam::001234567890:role/R') WITH (VALIDATE = 'yes')", '22023', 'invalid VALIDATE: expected true or false'],
  ["CREATE CONNECTION c TO AWS (ASSUME ROLE ARN = 'arn:aws:iam::001234567890:role/R') WITH (FAST = true)", '42601', 'unknown WITH option FAST'],
  ["CREATE CONNECTION mz_catalog.c TO AWS (ASSUME ROLE ARN = 'arn:aws:iam::001234567890:role/R')", '42501', "system schema 'mz_catalog' cannot be modified"],
  ["CREATE CONNECTION nope.c TO AWS (ASSUME ROLE ARN = 'arn:aws:iam::001234567890:role/R')", '3F000', "unknown schema 'nope'"],
  ["CREATE CONNECTION other.public.c TO AWS (ASSUME ROLE ARN = 'arn:aws:iam::001234567890:role/R')", '3D000', "unknown database 'other'"],
  // Materialize's order: an incomplete credential set is named before the clash with the role.
  ["ALTER CONNECTION t SET (ACCESS KEY ID = 'AKIA')", '22023', 'invalid ALTER CONNECTION: must specify both ACCESS KEY ID and SECRET ACCESS KEY with optional SESSION TOKEN'],
  ["ALTER CONNECTION t SET (ACCESS KEY ID = 'AKIA', SECRET ACCESS KEY = SECRET s)", '22023', 'invalid ALTER CONNECTION: cannot specify both ACCESS KEY ID and ASSUME ROLE ARN'],
  ["ALTER CONNECTION t DROP (ASSUME ROLE ARN), SET (ASSUME ROLE SESSION NAME = 'abc')", '22023', 'invalid ALTER CONNECTION: must specify ASSUME ROLE ARN with optional ASSUME ROLE SESSION NAME'],
  ['ALTER CONNECTION t RESET (ASSUME ROLE ARN)', '22023', 'invalid ALTER CONNECTION: must specify either ASSUME ROLE ARN or ACCESS KEY ID and SECRET ACCESS KEY'],
  ["ALTER CONNECTION t SET (REGION = 'us-east-1'), DROP (REGION)", '42601', 'cannot both SET and DROP/RESET options REGION'],
  ["ALTER CONNECTION t SET (REGION = 'us-east-1'), RESET (REGION), SET (ENDPOINT = 'https://x'), DROP (ENDPOINT)", '42601', 'cannot both SET and DROP/RESET options REGION, ENDPOINT'],
  ["CREATE CONNECTION c TO AWS (ASSUME ROLE ARN = 'arn:aws:iam::001234567890:role/R', HOST = 'h', PORT = 5432)", '42601', 'AWS connections do not support HOST, PORT values'],
  ["CREATE CONNECTION c TO AWS (ACCESS KEY ID = 'a', ASSUME ROLE SESSION NAME 's')", '22023', 'must specify both ACCESS KEY ID and SECRET ACCESS KEY with optional SESSION TOKEN'],
  ["ALTER CONNECTION t SET (REGION = 'us-east-1'), SET (REGION = 'us-east-2')", '42601', 'REGION specified more than once'],
  ["ALTER CONNECTION t SET (HOST = 'x')", '42601', 'AWS connections do not support HOST values'],
  ["ALTER CONNECTION missing SET (REGION = 'us-east-1')", '42704', "unknown catalog item 'missing'"],
  ["ALTER CONNECTION s SET (REGION = 'us-east-1')", '42809', 'materialize.public.s is not a connection'],
  ['ALTER SECRET t AS \'x\'', '42809', 'materialize.public.t is not a secret'],
  ['ALTER SECRET s RENAME TO t', '42710', 'connection "materialize.public.t" already exists'],
  ['DROP SECRET s', '2BP01', 'cannot drop secret "s": still depended upon by connection "k"'],
  ['DROP SECRET t', '42809', 'materialize.public.t is not a secret'],
  ['DROP SECRET x', '42704', "unknown catalog item 'x'"],
  ['DROP CONNECTION t, x', '42704', "unknown catalog item 'x'"],
  ['VALIDATE CONNECTION missing', '42704', "unknown catalog item 'missing'"],
  ['VALIDATE CONNECTION s', '42809', 'materialize.public.s is not a connection'],
  ['SHOW CREATE CONNECTION s', '42809', 'materialize.public.s is not a connection'],
  ["CREATE SECRET e AS", '42601', 'Expected a value, found end of input'],
  ["CREATE CONNECTION c TO AWS (FOO = 'x')", '42601', 'Expected a connection option name such as ACCESS KEY ID, ASSUME ROLE ARN or REGION, found identifier "foo"'],
];

describe('planner errors', () => {
  let server: TestServer;
  let c: pg.Client;
  beforeAll(async () => {
    server = await startTestServer();
    c = await server.client();
    await c.query("CREATE SECRET s AS 'secret-value'");
    await c.query("CREATE CONNECTION t TO AWS (ASSUME ROLE ARN = 'arn:aws:iam::001234567890:role/Customer')");
    await c.query("CREATE CONNECTION k TO AWS (ACCESS KEY ID = 'AKIA', SECRET ACCESS KEY = SECRET s)");
  });
  afterAll(async () => server.stop());

  it.each(FAILURES)('%s → %s %s', async (sql, code, message) => {
    const before = await catalogSnapshot(c);
    const err = await errorOf(c.query(sql));
    expect({ code: err.code, message: err.message }).toEqual({ code, message });
    expect(await catalogSnapshot(c)).toEqual(before);
  });

  it('points at the offending option with a position', async () => {
    const sql = "CREATE CONNECTION c TO AWS (REGION = 'us-east-1', REGION = 'us-east-2')";
    const err = await errorOf(c.query(sql));
    expect(Number(err.position)).toBe(sql.indexOf("REGION = 'us-east-2'") + 1);
  });

  it('hints at the fix for bad values and dependent objects', async () => {
    expect((await errorOf(c.query("CREATE CONNECTION c TO AWS (ASSUME ROLE ARN = 'arn:aws:iam::1:role/R')"))).hint).toContain('arn:aws:iam::123456789012:role/MyRole');
    expect((await errorOf(c.query('DROP SECRET s'))).hint).toContain('CASCADE');
  });

  it('IF NOT EXISTS and IF EXISTS answer with notices and change nothing', async () => {
    const notices: string[] = [];
    c.on('notice', (n) => notices.push(n.message ?? ""));
    const before = await catalogSnapshot(c);
    await c.query("CREATE SECRET IF NOT EXISTS s AS 'other'");
    await c.query("CREATE CONNECTION IF NOT EXISTS t TO AWS (ASSUME ROLE ARN = 'arn:aws:iam::001234567890:role/Other')");
    await c.query('DROP CONNECTION IF EXISTS nothing_here');
    await c.query("ALTER SECRET IF EXISTS nothing_here AS 'x'");
    expect(await catalogSnapshot(c)).toEqual(before);
    await new Promise((r) => setTimeout(r, 20));
    expect(notices).toEqual([
      'secret "materialize.public.s" already exists, skipping',
      'connection "materialize.public.t" already exists, skipping',
      'connection "nothing_here" does not exist, skipping',
      'secret "nothing_here" does not exist, skipping',
    ]);
  });

  it('DROP ... CASCADE drops the dependent connections too', async () => {
    await c.query("CREATE SECRET cascade_s AS 'x'");
    await c.query("CREATE CONNECTION cascade_c TO AWS (ACCESS KEY ID = SECRET cascade_s, SECRET ACCESS KEY = SECRET cascade_s)");
    await c.query('DROP SECRET cascade_s CASCADE');
    expect((await c.query("SELECT name FROM mz_connections WHERE name = 'cascade_c'")).rows).toEqual([]);
    expect((await c.query("SELECT name FROM mz_secrets WHERE name = 'cascade_s'")).rows).toEqual([]);
  });

  it('renaming a secret re-renders the create_sql of connections that use it', async () => {
    await c.query("CREATE SECRET rename_me AS 'x'");
    await c.query("CREATE CONNECTION uses_it TO AWS (ACCESS KEY ID = 'AKIA', SECRET ACCESS KEY = SECRET rename_me)");
    await c.query('ALTER SECRET rename_me RENAME TO renamed');
    const { rows } = await c.query("SELECT create_sql FROM mz_connections WHERE name = 'uses_it'");
    expect(rows[0].create_sql).toMatch(/SECRET ACCESS KEY = SECRET \[u\d+ AS "materialize"\."public"\."renamed"\]/);
    await c.query('ALTER CONNECTION uses_it RENAME TO used');
    expect((await c.query("SELECT create_sql FROM mz_connections WHERE name = 'used'")).rows[0].create_sql).toMatch(/^CREATE CONNECTION "materialize"."public"."used"/);
    await c.query('DROP SECRET renamed CASCADE');
  });

  it('with no jump role configured, an assume-role connection has no principal and a NOTICE says why', async () => {
    const bare = await startTestServer(['--aws-connection-role-arn', '']);
    try {
      const client = await bare.client();
      const notices: string[] = [];
      client.on('notice', (n) => notices.push(n.message ?? ""));
      await client.query("CREATE CONNECTION r TO AWS (ASSUME ROLE ARN = 'arn:aws:iam::001234567890:role/R')");
      await new Promise((r) => setTimeout(r, 20));
      expect(notices).toEqual(['the server has no AWS connection role configured, so this connection has no principal yet']);
      const { rows } = await client.query("SELECT principal, external_id, example_trust_policy FROM mz_internal.mz_aws_connections");
      expect(rows).toEqual([{ principal: null, external_id: expect.stringMatching(/^mz_test-prefix_u\d+$/), example_trust_policy: null }]);
    } finally {
      await bare.stop();
    }
  });
});
