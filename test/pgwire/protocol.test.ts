import { serialize } from 'pg-protocol';
import type { DatabaseError, ParameterStatusMessage } from 'pg-protocol/dist/messages.js';
import { describe, expect, it } from 'vitest';
import { frame, rawConnect, rawSession } from '../support/raw-client.js';
import { useTestServer } from '../support/server.js';

function int32s(...values: number[]): Buffer {
  const b = Buffer.alloc(values.length * 4);
  values.forEach((v, i) => b.writeInt32BE(v, i * 4));
  return b;
}

describe('pgwire protocol handling', () => {
  const server = useTestServer();

  it('answers SSLRequest and GSSENCRequest with N, then accepts a plain startup', async () => {
    for (const code of [80877103, 80877104]) {
      const c = await rawConnect(server().port);
      const answer = c.expectRaw(1);
      c.send(int32s(8, code));
      expect((await answer).toString()).toBe('N');
      c.send(serialize.startup({ user: 'materialize', database: 'materialize' }));
      await c.waitFor((m) => m.name === 'readyForQuery');
      c.end();
    }
  });

  it('reports the parameters psql and drivers expect, a backend key and ReadyForQuery I', async () => {
    const c = await rawSession(server().port);
    const params = Object.fromEntries(
      c.messages.filter((m): m is ParameterStatusMessage => m.name === 'parameterStatus').map((m) => [m.parameterName, m.parameterValue]),
    );
    expect(params).toMatchObject({
      server_version: '14.0',
      server_encoding: 'UTF8',
      client_encoding: 'UTF8',
      DateStyle: 'ISO, MDY',
      integer_datetimes: 'on',
      standard_conforming_strings: 'on',
      TimeZone: 'UTC',
      session_authorization: 'materialize',
    });
    expect(c.messages.some((m) => m.name === 'backendKeyData')).toBe(true);
    const ready = c.messages.find((m) => m.name === 'readyForQuery') as unknown as { status: string };
    expect(ready.status).toBe('I');
    c.end();
  });

  it('answers an empty query with EmptyQueryResponse', async () => {
    const c = await rawSession(server().port);
    c.send(serialize.query('  ;  '));
    await c.waitFor((m) => m.name === 'emptyQuery');
    c.end();
  });

  it('sends the error position as the P field', async () => {
    const c = await rawSession(server().port);
    c.send(serialize.query("CREATE SECRET s AS 'x' junk"));
    const err = (await c.waitFor((m) => m.name === 'error')) as DatabaseError;
    expect(err.code).toBe('42601');
    expect(err.position).toBe(String("CREATE SECRET s AS 'x' junk".indexOf('junk') + 1));
    c.end();
  });

  it('refuses an unsupported protocol version with a FATAL error', async () => {
    const c = await rawConnect(server().port);
    c.send(int32s(8, 2 << 16));
    const err = (await c.waitFor((m) => m.name === 'error')) as DatabaseError;
    expect(err.severity).toBe('FATAL');
    expect(err.code).toBe('08P01');
    await c.closed;
  });

  it('closes a CancelRequest connection without an answer', async () => {
    const c = await rawConnect(server().port);
    c.send(int32s(16, 80877102, 1, 1234));
    await c.closed;
    expect(c.messages).toEqual([]);
  });

  const malformed: [string, Buffer][] = [
    ['a length below 4', frame('Q', Buffer.from('select 1\0'), 2)],
    ['an unknown message type', frame('y', Buffer.alloc(0))],
    ['a length over the limit', frame('Q', Buffer.alloc(0), 0x7fffffff)],
    ['a Parse without string terminators', frame('P', Buffer.from('abc'))],
    ['a Bind with a parameter longer than the message', frame('B', Buffer.concat([Buffer.from('\0\0'), Buffer.from([0, 0, 0, 1]), int32s(1000)]))],
    ['a Describe of an unknown kind', frame('D', Buffer.from('Xname\0'))],
  ];

  it.each(malformed)('answers %s with FATAL 08P01, closes that connection, and serves others', async (_what, bytes) => {
    const bystander = await server().client();
    const c = await rawSession(server().port);
    c.send(bytes);
    const err = (await c.waitFor((m) => m.name === 'error')) as DatabaseError;
    expect(err.severity).toBe('FATAL');
    expect(err.code).toBe('08P01');
    await c.closed;
    expect((await bystander.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
  });

  it('refuses a Parse naming a parameter type that does not exist with 42704, and the session goes on', async () => {
    const c = await rawSession(server().port);
    for (const types of [[999_999], [0, 2_000_000_000], [-1]]) {
      c.messages.length = 0;
      c.send(Buffer.concat([serialize.parse({ text: 'SELECT $1', types }), serialize.bind({ values: ['x'] }), serialize.execute({}), serialize.sync()]));
      const err = (await c.waitFor((m) => m.name === 'error')) as DatabaseError;
      expect(err.code).toBe('42704');
      expect(err.message).toMatch(/^type with OID \d+ does not exist$/);
      await c.waitFor((m) => m.name === 'readyForQuery');
      expect(c.messages.map((m) => m.name)).toEqual(['error', 'readyForQuery']);
    }
    c.messages.length = 0;
    c.send(Buffer.concat([serialize.parse({ text: 'SELECT $1::text AS v', types: [25] }), serialize.bind({ values: ['ok'] }), serialize.execute({}), serialize.sync()]));
    await c.waitFor((m) => m.name === 'readyForQuery');
    expect(c.messages.some((m) => m.name === 'dataRow')).toBe(true);
    c.end();
  });

  it('Terminate closes the connection', async () => {
    const c = await rawSession(server().port);
    c.send(serialize.end());
    await c.closed;
  });
});
