import { readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Catalog } from '../../src/catalog/catalog.js';
import { PgliteStore } from '../../src/catalog/pglite-store.js';
import { loadSecretsKey, SecretCipher } from '../../src/secrets/cipher.js';
import { errorOf, startTestServer, type TestServer } from '../support/server.js';

const CANARY = 'canary-5ecret-VALUE-93b1';
const CANARY_2 = 'canary-rotated-VALUE-77c2';

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
}

describe('a secret value never leaves secrets/ in plain text', () => {
  let server: TestServer;
  const seen: string[] = [];
  beforeAll(async () => {
    server = await startTestServer();
    const c = await server.client();
    c.on('notice', (n) => seen.push(n.message ?? ""));
    await c.query(`CREATE SECRET canary AS '${CANARY}'`);
    await c.query("CREATE CONNECTION uses_canary TO AWS (ACCESS KEY ID = SECRET canary, SECRET ACCESS KEY = SECRET canary, SESSION TOKEN = SECRET canary)");
    await c.query(`ALTER SECRET canary AS '${CANARY_2}'`);
    await c.query(`CREATE SECRET IF NOT EXISTS canary AS '${CANARY}'`);
  });
  afterAll(async () => server.stop());

  it('is absent from every system view and from SHOW CREATE', async () => {
    const c = await server.client();
    const views = ['mz_catalog.mz_connections', 'mz_catalog.mz_secrets', 'mz_internal.mz_aws_connections', 'mz_internal.mz_object_dependencies', 'mz_catalog.mz_roles'];
    for (const view of views) {
      const text = JSON.stringify((await c.query(`SELECT * FROM ${view}`)).rows);
      expect(text).not.toContain(CANARY);
      expect(text).not.toContain(CANARY_2);
    }
    for (const show of ['SHOW CREATE CONNECTION uses_canary', 'SHOW REDACTED CREATE CONNECTION uses_canary', 'SHOW SECRETS', 'SHOW CONNECTIONS']) {
      const text = JSON.stringify((await c.query(show)).rows);
      expect(text).not.toContain('canary-');
    }
  });

  it('cannot be read through SQL: the internal tables are closed to clients', async () => {
    const c = await server.client();
    for (const sql of ['SELECT * FROM iamlink_internal.secrets', 'SELECT * FROM iamlink_internal.items', 'SELECT * FROM iamlink_internal.config']) {
      expect((await errorOf(c.query(sql))).code).toBe('42501');
    }
    expect((await errorOf(c.query("SELECT pg_read_file('catalog/base')"))).code).toBe('42501');
  });

  it('is absent from every error message, notice and log line', async () => {
    const c = await server.client();
    const failing = [
      `CREATE SECRET canary AS '${CANARY}'`,
      `CREATE SECRET s2 AS '${CANARY}' trailing`,
      `CREATE SECRET s2 AS '${CANARY}' '${CANARY}'`,
      `CREATE SECRETT s2 AS '${CANARY}'`,
      `CREATE SECRET s2 AS '${CANARY}`,
      `ALTER SECRET missing AS '${CANARY}'`,
      `CREATE CONNECTION c TO AWS (ACCESS KEY ID = '${CANARY}', SECRET ACCESS KEY = '${CANARY}')`,
      `BEGIN; CREATE SECRET canary AS '${CANARY}'`,
      `CREATE SECRET s3 AS '${CANARY}'; SELEC 1`,
    ];
    for (const sql of failing) {
      const e = await errorOf(c.query(sql));
      expect([e.message, e.detail, e.hint].join(' ')).not.toContain(CANARY);
      await c.query('ROLLBACK').catch(() => undefined);
    }
    expect(seen.join(' ')).not.toContain(CANARY);
    const log = await server.logText();
    expect(log).toContain('CREATE SECRET canary AS');
    expect(log).not.toContain(CANARY);
    expect(log).not.toContain(CANARY_2);
  });

  it('is absent from every file in the data directory, yet decrypts with the key', async () => {
    const dataDir = server.dataDir;
    await server.close();
    for (const file of await filesUnder(dataDir)) {
      const bytes = await readFile(file);
      expect(bytes.includes(Buffer.from(CANARY)), file).toBe(false);
      expect(bytes.includes(Buffer.from(CANARY_2)), file).toBe(false);
    }
    const store = await PgliteStore.open(join(dataDir, 'catalog'));
    try {
      const catalog = new Catalog(new SecretCipher(await loadSecretsKey(join(dataDir, 'secrets.key'), false)));
      const [row] = await store.query<{ id: string }>("SELECT id FROM iamlink_internal.items WHERE name = 'canary'");
      const value = await store.transaction((tx) => catalog.readSecret(tx, row!.id));
      expect(value?.reveal()).toBe(CANARY_2);
      expect(String(value)).toBe('<REDACTED>');
      expect(JSON.stringify({ value })).toBe('{"value":"<REDACTED>"}');
    } finally {
      await store.close();
    }
    // Restart so that afterAll's stop has a server to stop (and removes the directory).
    const reopened = await startTestServer([], dataDir);
    server = { ...reopened, stop: async () => { await reopened.stop(); await rm(join(dataDir, '..'), { recursive: true, force: true }); } };
  });
});
