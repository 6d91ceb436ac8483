import type { SecureContext } from 'node:tls';
import type { Executor } from '../exec/executor.js';
import type { ScramVerifier } from '../secrets/scram-verifier.js';
import type { Logger } from '../log.js';
import type { RoleRef } from '../session/session.js';

/** Limits one client may not exceed (flags in config.ts). */
export interface ConnectionLimits {
  /** Longest frontend message; past it the connection is closed without reading the rest. */
  readonly maxMessageBytes: number;
  /** Time from connect to a finished startup. */
  readonly startupTimeoutMs: number;
  /** A session idle inside a transaction block this long is closed; 0: never. */
  readonly idleInTransactionTimeoutMs: number;
  /** Answers waiting in the socket past this: the client's next messages wait until it reads. */
  readonly maxOutputBufferBytes: number;
}

/** TLS as configured (--tls-*): absent when disabled. */
export interface TlsSettings {
  readonly context: SecureContext;
  /** Plain-text sessions are refused (FATAL 28000). */
  readonly required: boolean;
  /** Client certificates are asked for (--tls-ca); one presented must verify. */
  readonly requestCert: boolean;
}

/** What a connection needs from the server around it; built in server.ts. */
export interface ServerContext {
  readonly log: Logger;
  readonly executor: Executor;
  /** The server's maximum statement timeout, each session's default. */
  readonly statementTimeoutMs: number;
  readonly limits: ConnectionLimits;
  readonly tls?: TlsSettings;
  /** trust: any login name is in; password: SCRAM-SHA-256 against the role's stored verifier. */
  readonly auth: 'trust' | 'password';
  /** The verifier a login is checked against: its role's, or for a name without one a verifier nothing matches. */
  verifierFor(user: string): Promise<ScramVerifier>;
  /** A failed password login: logged with its source address; resolves when the answer may be sent (later after each failure from that address). */
  loginFailed(user: string, remote: string | undefined, reason: string): Promise<void>;
  /** A password login that succeeded: logged with its source address. */
  loginSucceeded(user: string, remote: string | undefined): void;
  /** Check a login (and count it against its role's limit) and return its role; throws a SqlError (sent as FATAL). */
  login(user: string, database: string, pid: number): Promise<RoleRef>;
  /** A CancelRequest arrived for the session with this pid and key. */
  cancel(pid: number, secretKey: number): void;
  /** The connection has closed. */
  closed(connection: { readonly pid: number }): void;
}
