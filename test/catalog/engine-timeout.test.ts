import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorOf, startTestServer, type TestServer } from '../support/server.js';

describe('a client read that overruns --statement-timeout-ms', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer(['--statement-timeout-ms', '500']);
  });
  afterAll(async () => server.stop());

  it('is stopped with 57014, and the engine comes back with everything committed', async () => {
    const c = await server.client();
    const other = await server.client();
    await c.query("CREATE SECRET before_timeout AS 'x'");
    const started = Date.now();
    const err = await errorOf(c.query('SELECT count(*) FROM generate_series(1, 2000000000)'));
    expect(err).toMatchObject({ code: '57014', message: 'canceling statement due to statement timeout' });
    // The deadline plus reopening the data directory.
    expect(Date.now() - started).toBeLessThan(5000);
    expect((await other.query('SELECT name FROM mz_secrets')).rows).toEqual([{ name: 'before_timeout' }]);
    expect((await c.query('SELECT current_user AS u')).rows).toEqual([{ u: 'materialize' }]);
    await c.query("CREATE SECRET after_timeout AS 'y'");
    expect((await other.query('SELECT count(*)::int AS n FROM mz_secrets')).rows).toEqual([{ n: 2 }]);
  });
});
