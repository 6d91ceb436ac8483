/** Small helpers the contract suites share: notices, CancelRequest, timing, ids. */
import { connect } from 'node:net';
import type pg from 'pg';
import { serialize } from 'pg-protocol';

/** The external-id prefix the template catalogs were made with (test/support/global-setup.ts). */
export const EXTERNAL_ID_PREFIX = 'test-prefix';

export interface SeenNotice {
  readonly code: string | undefined;
  readonly severity: string | undefined;
  readonly message: string;
}

/** Collect the NOTICEs `c` receives from now on; `take()` returns and forgets them. */
export function collectNotices(c: pg.Client): { take(): SeenNotice[] } {
  let seen: SeenNotice[] = [];
  c.on('notice', (n) => seen.push({ code: n.code, severity: n.severity, message: n.message ?? '' }));
  return {
    take: () => {
      const out = seen;
      seen = [];
      return out;
    },
  };
}

/** The numeric part of a user id (`u17` → 17); fails the test on anything else. */
export function idNumber(id: unknown): number {
  if (typeof id !== 'string' || !/^u[1-9]\d*$/.test(id)) throw new Error(`not a user id: ${String(id)}`);
  return Number(id.slice(1));
}

/**
 * Send a CancelRequest for `target` on a fresh socket, as libpq does (node-postgres has no API
 * for it); resolves when the server has closed that socket.
 */
export function sendCancel(target: pg.Client, host: string, port: number): Promise<void> {
  const { processID, secretKey } = target as unknown as { processID: number; secretKey: number };
  if (typeof processID !== 'number' || typeof secretKey !== 'number') throw new Error('no BackendKeyData on this client');
  return new Promise((resolve, reject) => {
    const socket = connect(port, host, () => socket.end(serialize.cancel(processID, secretKey)));
    socket.on('close', () => resolve());
    socket.on('error', reject);
  });
}

/** Run `p` and report how long it took and what it threw (pg's DatabaseError fields). */
export async function timed(p: Promise<unknown>): Promise<{ ms: number; code?: string; message?: string; hint?: string }> {
  const start = performance.now();
  try {
    await p;
    return { ms: performance.now() - start };
  } catch (err) {
    const e = err as pg.DatabaseError;
    return { ms: performance.now() - start, code: e.code, message: e.message, hint: e.hint };
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
