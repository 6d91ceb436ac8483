/** The engine protocol messages for a client read, the same for every store. */
import { serialize } from 'pg-protocol';
import { encodeBind, type BindValues, type Frame } from '../protocol-frames.js';
import type { ClientRead } from './store.js';

/** A read that can run as an engine prepared statement (planned once per engine session). */
export interface PreparableRead {
  readonly text: string;
  readonly types: readonly number[];
  readonly bind: BindValues;
}

/** A lifted simple query or a client's portal as a prepared statement; undefined for the rest. */
export function preparableRead(read: ClientRead): PreparableRead | undefined {
  if (read.kind === 'query' && read.lifted) {
    const l = read.lifted;
    return { text: l.text, types: l.types, bind: { paramFormats: [], params: l.params.map((p) => Buffer.from(p)), resultFormats: [] } };
  }
  if (read.kind === 'portal') return { text: read.text, types: read.paramTypes, bind: read.bind };
  return undefined;
}

/** Parse, Bind and Describe of the unnamed statement for a read (Execute and Sync are the store's). */
export function readMessages(read: ClientRead): Buffer {
  switch (read.kind) {
    case 'query':
      return Buffer.concat([serialize.parse({ text: read.text }), serialize.bind({}), serialize.describe({ type: 'P' })]);
    case 'portal':
      return Buffer.concat([serialize.parse({ text: read.text, types: [...read.paramTypes] }), encodeBind('', read.bind), serialize.describe({ type: 'P' })]);
    case 'describe':
      return Buffer.concat([serialize.parse({ text: read.text, types: [...read.paramTypes] }), serialize.describe({ type: 'S' })]);
  }
}

/**
 * The engine's answer as the client gets it: without ParseComplete and BindComplete (ours to send
 * or not), ParameterStatus (the engine session's settings; the client's are iamlink's to report)
 * and NotificationResponse.
 */
export function answerForClient(frames: Frame[]): Frame[] {
  return frames.filter((f) => f.type !== '1' && f.type !== '2' && f.type !== 'S' && f.type !== 'A');
}
