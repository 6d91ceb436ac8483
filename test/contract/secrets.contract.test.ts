/**
 * Secret values, the same on every store: never visible through SQL (views, SHOW, errors,
 * notices), and stored encrypted: in the shared database (read directly as its superuser) and
 * in the embedded engine's files.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadSecretsKey, SecretCipher } from '../../src/secrets/cipher.js';
import { errorOf, STORES, useTestServer, type TestServer } from '../support/server.js';
import { collectNotices } from './contract-helpers.js';

const CANARY = 'canary-CONTRACT-5ecret-41d7';
const CANARY_ROTATED = 'canary-CONTRACT-rotated-9e02';
const CANARY_BOUND = 'canary-CONTRACT-bound-c3a8';
const CANARY_IGNORED = 'canary-CONTRACT-ignored-07bb';

/** Every relation a client can read in the system schemas. */
async function systemRelations(c: pg.Client): Promise<string[]> {
  const { rows } = await c.query(
    "SELECT n.nspname || '.' || c.relname AS rel FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname IN ('mz_catalog', 'mz_internal') AND c.relkind IN ('v', 'r', 'm') ORDER BY 1",
  );
  return rows.map((r: { rel: string }) => r.rel);
}

/** Every row of every table in iamlink_internal of the shared catalog, as text (bytea as hex). */
async function sharedCatalogText(server: TestServer): Promise<string> {
  const admin = new pg.Client(server.config.catalogUrl);
  await admin.connect();
  try {
    const tables = (await admin.query("SELECT tablename FROM pg_tables WHERE schemaname = 'iamlink_internal' ORDER BY 1")).rows.map((r: { tablename: string }) => r.tablename);
    expect(tables).toContain('secrets');
    let text = '';
    for (const t of tables) text += (await admin.query(`SELECT coalesce(string_agg(x::text, E'\\n'), '') AS t FROM iamlink_internal.${t} x`)).rows[0].t;
    return text;
  } finally {
    await admin.end();
  }
}

describe.each(STORES)('secret values (%s store)', (store) => {
  const server = useTestServer([], store);
  const notices: string[] = [];

  beforeAll(async () => {
    const c = await server().client();
    c.on('notice', (n) => notices.push(`${n.message} ${n.detail ?? ''} ${n.hint ?? ''}`));
    await c.query(`CREATE SECRET sec_canary AS '${CANARY}'`);
    await c.query('CREATE CONNECTION sec_uses TO AWS (ACCESS KEY ID = SECRET sec_canary, SECRET ACCESS KEY = SECRET sec_canary, SESSION TOKEN = SECRET sec_canary)');
    await c.query(`CREATE SECRET sec_rotated AS 'before-rotation'`);
    await c.query(`ALTER SECRET sec_rotated AS '${CANARY_ROTATED}'`);
    // A value sent as a bind parameter (extended protocol) is a secret value like any other.
    await c.query('CREATE SECRET sec_bound AS $1', [CANARY_BOUND]);
    await c.query(`CREATE SECRET IF NOT EXISTS sec_canary AS '${CANARY}'`);
    // Skipped: the stored value stays the rotated one.
    await c.query(`CREATE SECRET IF NOT EXISTS sec_rotated AS '${CANARY_IGNORED}'`);
  });

  it('is absent from every system view, SHOW and SHOW CREATE', async () => {
    const c = await server().client();
    const relations = await systemRelations(c);
    expect(relations).toEqual(expect.arrayContaining(['mz_catalog.mz_connections', 'mz_catalog.mz_secrets', 'mz_internal.mz_aws_connections', 'mz_internal.mz_object_dependencies']));
    for (const rel of relations) {
      const text = JSON.stringify((await c.query(`SELECT * FROM ${rel}`)).rows);
      expect(text, rel).not.toContain('canary-');
    }
    // Yet the objects are there: the views are not simply empty.
    expect((await c.query("SELECT name FROM mz_secrets WHERE name LIKE 'sec\\_%' ORDER BY name")).rows).toEqual([{ name: 'sec_bound' }, { name: 'sec_canary' }, { name: 'sec_rotated' }]);
    for (const show of ['SHOW CREATE CONNECTION sec_uses', 'SHOW REDACTED CREATE CONNECTION sec_uses', 'SHOW SECRETS', 'SHOW CONNECTIONS']) {
      const { rows } = await c.query(show);
      expect(rows.length, show).toBeGreaterThan(0);
      expect(JSON.stringify(rows), show).not.toContain('canary-');
    }
    expect((await c.query('SHOW CREATE CONNECTION sec_uses')).rows[0].create_sql).toContain('SECRET ACCESS KEY = SECRET materialize.public.sec_canary');
  });

  it('is absent from errors and notices about the statements that carry it', async () => {
    const c = await server().client();
    const seen = collectNotices(c);
    const failing = [
      `CREATE SECRET sec_canary AS '${CANARY}'`,
      `CREATE SECRET sec_new AS '${CANARY}' trailing`,
      `ALTER SECRET sec_missing AS '${CANARY}'`,
      `ALTER SECRET sec_uses AS '${CANARY}'`,
      `CREATE CONNECTION sec_c TO AWS (ACCESS KEY ID = '${CANARY}', SECRET ACCESS KEY = '${CANARY}')`,
      `CREATE SECRET sec_new AS '${CANARY}'; SELEC 1`,
    ];
    for (const sql of failing) {
      const e = await errorOf(c.query(sql));
      expect(e.code, sql).not.toBe('');
      expect([e.message, e.detail, e.hint].join(' '), sql).not.toContain(CANARY);
    }
    await c.query(`CREATE SECRET IF NOT EXISTS sec_canary AS '${CANARY}'`);
    const all = [...notices, ...seen.take().map((n) => n.message)];
    expect(all.length).toBeGreaterThan(0);
    expect(all.join(' ')).not.toContain('canary-');
  });

  it('is stored encrypted, and decrypts to the value with the server key', async () => {
    if (store === 'postgres') {
      const text = await sharedCatalogText(server());
      expect(text).toContain('sec_canary'); // the catalog is really there
      for (const value of [CANARY, CANARY_ROTATED, CANARY_BOUND, CANARY_IGNORED]) {
        expect(text).not.toContain(value);
        expect(text).not.toContain(Buffer.from(value).toString('hex'));
      }
      const admin = new pg.Client(server().config.catalogUrl);
      await admin.connect();
      try {
        const { rows } = await admin.query<{ id: string; name: string; key_id: string; nonce: Buffer; ciphertext: Buffer }>(
          "SELECT s.id, i.name, s.key_id, s.nonce, s.ciphertext FROM iamlink_internal.secrets s JOIN iamlink_internal.items i USING (id) WHERE i.name LIKE 'sec\\_%' ORDER BY i.name",
        );
        expect(rows.map((r) => r.name)).toEqual(['sec_bound', 'sec_canary', 'sec_rotated']);
        const cipher = new SecretCipher(await loadSecretsKey(server().config.secretsKeyFile, false));
        const plain = Object.fromEntries(rows.map((r) => [r.name, cipher.open({ keyId: r.key_id, nonce: r.nonce, ciphertext: r.ciphertext }, r.id).reveal()]));
        expect(plain).toEqual({ sec_bound: CANARY_BOUND, sec_canary: CANARY, sec_rotated: CANARY_ROTATED });
        for (const r of rows) expect(r.ciphertext.includes(Buffer.from(plain[r.name]!))).toBe(false);
      } finally {
        await admin.end();
      }
    } else {
      // The embedded engine cannot be opened beside the running server: its files are read
      // instead. The secret's name is in them (the catalog reached disk), the value is not.
      const files = (await readdir(server().dataDir, { withFileTypes: true, recursive: true })).filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
      let nameSeen = false;
      for (const file of files) {
        const bytes = await readFile(file);
        if (bytes.includes(Buffer.from('sec_canary'))) nameSeen = true;
        for (const value of [CANARY, CANARY_ROTATED, CANARY_BOUND, CANARY_IGNORED]) expect(bytes.includes(Buffer.from(value)), `${value} in ${file}`).toBe(false);
      }
      expect(nameSeen).toBe(true);
    }
  });

  it('is refused to client reads of the internal tables (42501)', async () => {
    const c = await server().client();
    for (const sql of [
      'SELECT * FROM iamlink_internal.secrets',
      'SELECT ciphertext FROM iamlink_internal.secrets',
      'SELECT count(*) FROM (SELECT * FROM iamlink_internal.secrets) s',
      'SELECT * FROM mz_secrets WHERE id IN (SELECT id FROM iamlink_internal.secrets)',
    ]) {
      expect(await errorOf(c.query(sql)), sql).toMatchObject({ code: '42501', message: 'permission denied for schema iamlink_internal' });
    }
  });
});
