/**
 * Statement timeouts and CancelRequest, the same on every store: 57014 soon after the limit,
 * SHOW statement_timeout says what is in force, the server maximum caps a session's value, and
 * the session (and the catalog) go on afterwards.
 *
 * How soon: PostgreSQL stops a read itself; the embedded engine is stopped by ending its thread
 * and reopening the data directory (about a second, README "Security"). The bounds below leave
 * room for that and for a busy two-core machine, and are still far below the read's own
 * running time (minutes).
 */
import { describe, expect, it } from 'vitest';
import { STORES, useTestServer } from '../support/server.js';
import { sendCancel, sleep, timed } from './contract-helpers.js';

/** A read that runs for minutes on either engine. */
const SLOW_READ = 'SELECT count(*) FROM generate_series(1, 1e9::bigint)';
/** Longest a stopped read may take past its limit (the embedded engine's restart, a busy machine). */
const STOP_SLACK_MS = 4000;

describe.each(STORES)('timeouts and cancel (%s store)', (store) => {
  describe('under the default --statement-timeout-ms (5000)', () => {
    const server = useTestServer([], store);

    it('SET statement_timeout = 200 stops a slow read with 57014 well before the server maximum', async () => {
      const c = await server().client();
      expect((await c.query('SHOW statement_timeout')).rows).toEqual([{ statement_timeout: '5s' }]);
      await c.query("CREATE SECRET to_kept AS 'x'");
      await c.query('SET statement_timeout = 200');
      expect((await c.query('SHOW statement_timeout')).rows).toEqual([{ statement_timeout: '200ms' }]);

      const stopped = await timed(c.query(SLOW_READ));
      expect(stopped).toMatchObject({ code: '57014', message: 'canceling statement due to statement timeout' });
      expect(stopped.ms).toBeGreaterThanOrEqual(150);
      expect(stopped.ms).toBeLessThan(200 + STOP_SLACK_MS);
      // The session and the catalog go on, with the session's value still in force.
      expect((await c.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
      expect((await c.query("SELECT name FROM mz_secrets WHERE name = 'to_kept'")).rows).toEqual([{ name: 'to_kept' }]);
      expect((await c.query('SHOW statement_timeout')).rows).toEqual([{ statement_timeout: '200ms' }]);
      // ...and in the extended protocol too.
      expect(await timed(c.query('SELECT count(*) FROM generate_series(1, $1::bigint)', [1e9]))).toMatchObject({ code: '57014' });
      await c.query('RESET statement_timeout');
      expect((await c.query('SHOW statement_timeout')).rows).toEqual([{ statement_timeout: '5s' }]);
    });

    it('the timeout error names the limit in force in its hint', async () => {
      const c = await server().client();
      await c.query("SET statement_timeout = '300ms'");
      const stopped = await timed(c.query(SLOW_READ));
      expect(stopped).toMatchObject({ code: '57014', message: 'canceling statement due to statement timeout', hint: expect.stringContaining('300 ms') });
    });

    it('a CancelRequest stops a running slow read with 57014, and the session keeps working', async () => {
      const c = await server().client();
      const other = await server().client();
      const running = timed(c.query(SLOW_READ));
      await sleep(300);
      const cancelledAt = performance.now();
      await sendCancel(c, server().host, server().port);
      const stopped = await running;
      expect(stopped).toMatchObject({ code: '57014', message: 'canceling statement due to user request' });
      // Stopped by the cancel, not by the 5 s statement timeout.
      expect(performance.now() - cancelledAt).toBeLessThan(STOP_SLACK_MS);
      expect((await c.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
      await c.query("CREATE SECRET to_after_cancel AS 'x'");
      expect((await other.query("SELECT name FROM mz_secrets WHERE name = 'to_after_cancel'")).rows).toEqual([{ name: 'to_after_cancel' }]);
      // A cancel with nothing running stops nothing later.
      await sendCancel(c, server().host, server().port);
      await sleep(100);
      expect((await c.query('SELECT count(*)::int AS n FROM generate_series(1, 1000)')).rows).toEqual([{ n: 1000 }]);
    });
  });

  describe('under --statement-timeout-ms 1000', () => {
    const server = useTestServer(['--statement-timeout-ms', '1000'], store);

    it('caps a higher or unlimited session value at the server maximum, and SHOW says so', async () => {
      const c = await server().client();
      const show = async (): Promise<unknown> => (await c.query('SHOW statement_timeout')).rows;
      expect(await show()).toEqual([{ statement_timeout: '1s' }]);
      await c.query("SET statement_timeout = '60s'");
      expect(await show()).toEqual([{ statement_timeout: '1s' }]);
      await c.query('SET statement_timeout = 0');
      expect(await show()).toEqual([{ statement_timeout: '1s' }]);
      await c.query('SET statement_timeout = 500');
      expect(await show()).toEqual([{ statement_timeout: '500ms' }]);
      await c.query("SET statement_timeout = '60s'");

      const stopped = await timed(c.query(SLOW_READ));
      expect(stopped).toMatchObject({ code: '57014', message: 'canceling statement due to statement timeout' });
      expect(stopped.ms).toBeGreaterThanOrEqual(900);
      expect(stopped.ms).toBeLessThan(1000 + STOP_SLACK_MS);
      expect((await c.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
    });
  });
});
