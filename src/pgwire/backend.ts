/** Encoders for the backend messages iamlink writes itself (the engine's pass through as they are). */
import { Writer } from 'pg-protocol/dist/buffer-writer.js';
import type { SqlError } from '../errors.js';
import { BackendCode, ErrorField, TEXT_OID } from './codes.js';

const empty = (code: number): Buffer => new Writer().flush(code);

export const authenticationOk = (): Buffer => new Writer().addInt32(0).flush(BackendCode.authentication);
/** AuthenticationSASL: the mechanisms offered, each a C string, then an empty one. */
export function authenticationSasl(mechanisms: readonly string[]): Buffer {
  const w = new Writer().addInt32(10);
  for (const m of mechanisms) w.addCString(m);
  return w.addCString('').flush(BackendCode.authentication);
}
export const authenticationSaslContinue = (data: string): Buffer => new Writer().addInt32(11).addString(data).flush(BackendCode.authentication);
export const authenticationSaslFinal = (data: string): Buffer => new Writer().addInt32(12).addString(data).flush(BackendCode.authentication);
export const parameterStatus = (name: string, value: string): Buffer => new Writer().addCString(name).addCString(value).flush(BackendCode.parameterStatus);
export const backendKeyData = (pid: number, secret: number): Buffer => new Writer().addInt32(pid).addInt32(secret).flush(BackendCode.backendKeyData);
export const readyForQuery = (status: 'I' | 'T' | 'E'): Buffer => new Writer().addString(status).flush(BackendCode.readyForQuery);
export const commandComplete = (tag: string): Buffer => new Writer().addCString(tag).flush(BackendCode.commandComplete);
export const emptyQueryResponse = (): Buffer => empty(BackendCode.emptyQueryResponse);
export const parseComplete = (): Buffer => empty(BackendCode.parseComplete);
export const bindComplete = (): Buffer => empty(BackendCode.bindComplete);
export const closeComplete = (): Buffer => empty(BackendCode.closeComplete);
export const noData = (): Buffer => empty(BackendCode.noData);
export const portalSuspended = (): Buffer => empty(BackendCode.portalSuspended);

export function parameterDescription(types: readonly number[]): Buffer {
  const w = new Writer().addInt16(types.length);
  for (const t of types) w.addInt32(t);
  return w.flush(BackendCode.parameterDescription);
}

/** RowDescription for text columns computed by iamlink itself. */
export function textRowDescription(columns: readonly string[]): Buffer {
  const w = new Writer().addInt16(columns.length);
  for (const name of columns) w.addCString(name).addInt32(0).addInt16(0).addInt32(TEXT_OID).addInt16(-1).addInt32(-1).addInt16(0);
  return w.flush(BackendCode.rowDescription);
}

export function dataRow(values: readonly (string | null)[]): Buffer {
  const w = new Writer().addInt16(values.length);
  for (const v of values) {
    if (v === null) {
      w.addInt32(-1);
    } else {
      const bytes = Buffer.from(v, 'utf8');
      w.addInt32(bytes.length).add(bytes);
    }
  }
  return w.flush(BackendCode.dataRow);
}

function fields(severity: string, code: string, message: string, extra: { detail?: string; hint?: string; position?: number }): Writer {
  const w = new Writer();
  w.addString(String.fromCharCode(ErrorField.severity)).addCString(severity);
  w.addString(String.fromCharCode(ErrorField.severityNonLocalized)).addCString(severity);
  w.addString(String.fromCharCode(ErrorField.code)).addCString(code);
  w.addString(String.fromCharCode(ErrorField.message)).addCString(message);
  if (extra.detail) w.addString(String.fromCharCode(ErrorField.detail)).addCString(extra.detail);
  if (extra.hint) w.addString(String.fromCharCode(ErrorField.hint)).addCString(extra.hint);
  if (extra.position !== undefined) w.addString(String.fromCharCode(ErrorField.position)).addCString(String(extra.position + 1));
  return w.addCString('');
}

export function errorResponse(err: SqlError): Buffer {
  return fields(err.severity, err.code, err.message, err).flush(BackendCode.errorResponse);
}

export function noticeResponse(code: string, message: string, extra: { detail?: string; hint?: string } = {}, severity = 'NOTICE'): Buffer {
  return fields(severity, code, message, extra).flush(BackendCode.noticeResponse);
}
