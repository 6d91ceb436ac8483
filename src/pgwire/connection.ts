/**
 * One client connection: an explicit state machine over the socket (startup → ready →
 * closed), the simple and extended query protocols, and error-skip-until-Sync.
 */
import { randomInt } from 'node:crypto';
import type { Socket } from 'node:net';
import { TLSSocket } from 'node:tls';
import { SqlError, SqlState, toSqlError } from '../errors.js';
import { classify, redactForLog, returnsRows, type Classified } from '../exec/classify.js';
import { paramCount } from '../exec/bind-params.js';
import type { Outcome, ReadHow } from '../exec/executor.js';
import type { Logger } from '../log.js';
import type { ParamRule, Portal, PortalResult, PreparedStatement, PreparedStatements } from '../session/prepared-statements.js';
import { Session } from '../session/session.js';
import { SETTINGS } from '../session/settings.js';
import { splitStatements } from '../sql/lexer.js';

const SIMPLE: ReadHow = { kind: 'simple' };
import * as msg from './backend.js';
import { FrontendCode, MAX_STARTUP_BYTES, StartupCode, TEXT_OID } from './codes.js';
import { decodeMessage, decodeStartupParams, MalformedMessage, type FrontendMessage } from './frontend.js';
import { InputBuffer } from './input-buffer.js';
import { certificateHash, ScramExchange, ScramFailure, scramMechanisms } from './scram.js';
import type { ServerContext } from './server-context.js';

/** startup: before the StartupMessage; authenticating: in a SCRAM exchange; ready: a session. */
type State = 'startup' | 'authenticating' | 'ready' | 'closed';

/** A startup waiting for its password exchange to end. */
interface PendingLogin {
  readonly user: string;
  readonly database: string;
  readonly params: Map<string, string>;
  readonly exchange: ScramExchange;
  step: 'first' | 'final';
}

/** Output gathered before it is handed to the socket in one write. */
const WRITE_BATCH_BYTES = 64 * 1024;

export class Connection {
  private state: State = 'startup';
  private readonly input = new InputBuffer();
  private output: Buffer[] = [];
  private outputBytes = 0;
  private busy = false;
  /** The server is shutting down: close once the statement running now is answered. */
  private draining = false;
  private readonly startupTimer: NodeJS.Timeout;
  private idleTimer: NodeJS.Timeout | undefined;
  private skipUntilSync = false;
  private session: Session | undefined;
  private pendingLogin: PendingLogin | undefined;
  readonly secretKey = randomInt(1, 2 ** 31 - 1);
  /** Aborted by a CancelRequest for the statement running now. */
  private running: AbortController | undefined;
  private log: Logger;

  /** The client's socket: the TCP one, or after SSLRequest the TLS one over it. */
  private socket: Socket;

  constructor(
    socket: Socket,
    readonly pid: number,
    private readonly ctx: ServerContext,
  ) {
    this.socket = socket;
    this.log = ctx.log.child({ session: pid });
    socket.setNoDelay(true);
    this.listen(socket);
    // A client that never finishes its startup must not hold a connection slot for ever.
    this.startupTimer = setTimeout(() => {
      // Until the session is ready: a password exchange left hanging counts too.
      if (this.state === 'startup' || this.state === 'authenticating') this.fatal(new SqlError(SqlState.queryCanceled, 'canceling authentication due to timeout'));
    }, ctx.limits.startupTimeoutMs);
    this.startupTimer.unref();
  }

  private listen(socket: Socket): void {
    socket.on('data', (chunk: Buffer) => {
      this.stopIdleTimer();
      this.input.push(chunk);
      // A client that sends faster than it is answered waits: at most one whole message (and a
      // chunk) is held for it.
      if (this.input.length > this.inputLimit()) socket.pause();
      void this.pump();
    });
    socket.on('error', (err) => this.log.debug({ err: err.message }, 'socket error'));
    socket.on('close', () => this.close());
  }

  /**
   * SSLRequest: 'S' and the TLS handshake when TLS is configured (once), else 'N' and plain text.
   * Bytes the client sent after its SSLRequest, before our answer, are refused: they would be read
   * as if they had come over TLS (CVE-2021-23214).
   */
  private startTls(): boolean {
    const tls = this.ctx.tls;
    if (!tls || this.socket instanceof TLSSocket) {
      if (this.socket instanceof TLSSocket) {
        this.fatal(new SqlError(SqlState.protocolViolation, 'SSLRequest over a connection that already uses TLS'));
        return false;
      }
      this.write(Buffer.from('N'));
      return true;
    }
    if (this.input.length > 0) {
      this.fatal(new SqlError(SqlState.protocolViolation, 'received unencrypted data after SSL request'));
      return false;
    }
    this.write(Buffer.from('S'));
    this.flush();
    const plain = this.socket;
    plain.removeAllListeners('data');
    plain.removeAllListeners('close');
    plain.removeAllListeners('error');
    plain.on('error', () => undefined);
    const secure = new TLSSocket(plain, { isServer: true, secureContext: tls.context, requestCert: tls.requestCert, rejectUnauthorized: false });
    secure.on('secure', () => {
      // A client certificate, when one was presented, must verify against --tls-ca. A socket not
      // made by a tls.Server is not checked by Node itself: this is what its server does
      // (onServerSocketSecure in lib/_tls_wrap.js).
      if (!tls.requestCert || secure.getPeerCertificate().raw === undefined) return;
      const verifyError = (secure as unknown as { _handle?: { verifyError(): Error | null } })._handle?.verifyError();
      if (verifyError !== null) {
        const reason = (verifyError as { code?: string } | undefined)?.code ?? 'unverifiable';
        this.log.warn({ remote: plain.remoteAddress, reason }, 'client certificate rejected');
        this.fatal(new SqlError(SqlState.invalidAuthorizationSpecification, `client certificate rejected: ${reason}`));
      }
    });
    this.socket = secure;
    this.listen(secure);
    return true;
  }

  /** Process every complete message in the input, in order, one at a time. */
  private async pump(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      while (this.state !== 'closed') {
        const handled =
          this.state === 'startup' ? await this.readStartup() : this.state === 'authenticating' ? await this.readPassword() : await this.readMessage();
        if (!handled) break;
        // Backpressure: a client that does not read its answers gets no more work done.
        if (this.outputBytes >= WRITE_BATCH_BYTES) this.flush();
        if (this.socket.writableLength > this.ctx.limits.maxOutputBufferBytes) await this.drained();
      }
    } catch (err) {
      this.log.error({ err }, 'connection failed');
      this.fatal(toSqlError(err));
    } finally {
      this.flush();
      this.busy = false;
      this.startIdleTimer();
    }
    if (this.draining && this.state !== 'closed') this.shutdown();
    else if (this.state !== 'closed' && this.socket.isPaused() && this.input.length <= this.inputLimit()) this.socket.resume();
  }

  /**
   * A session left idle inside a transaction block is closed after --idle-in-transaction-timeout-ms
   * (PostgreSQL's idle_in_transaction_session_timeout): its staged changes are dropped, and it no
   * longer holds a connection slot for nothing.
   */
  private startIdleTimer(): void {
    const limit = this.ctx.limits.idleInTransactionTimeoutMs;
    if (limit <= 0 || this.idleTimer || this.state !== 'ready' || this.session?.transactionStatus === 'I' || this.input.length > 0) return;
    this.idleTimer = setTimeout(() => {
      this.idleTimer = undefined;
      if (this.state !== 'ready' || this.busy || this.session?.transactionStatus === 'I') return;
      this.fatal(new SqlError(SqlState.idleInTransactionSessionTimeout, 'terminating connection due to idle-in-transaction timeout'));
    }, limit);
    this.idleTimer.unref();
  }

  private stopIdleTimer(): void {
    clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
  }

  private inputLimit(): number {
    return this.ctx.limits.maxMessageBytes + 64 * 1024;
  }

  /** Resolves when the socket has written out what it holds, or closed. */
  private drained(): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        this.socket.off('drain', done);
        this.socket.off('close', done);
        resolve();
      };
      this.socket.once('drain', done);
      this.socket.once('close', done);
    });
  }

  private async readStartup(): Promise<boolean> {
    const len = this.input.int32At(0);
    if (len === undefined) return false;
    if (len < 8 || len > MAX_STARTUP_BYTES) {
      this.fatal(new SqlError(SqlState.protocolViolation, 'invalid length of startup packet'));
      return false;
    }
    if (this.input.length < len) return false;
    const packet = this.input.take(len);
    const code = packet.readInt32BE(4);
    const body = packet.subarray(8);
    switch (code) {
      case StartupCode.sslRequest:
        return this.startTls();
      case StartupCode.gssEncRequest:
        // No GSS encryption: the client may go on in plain text (or ask for TLS).
        this.write(Buffer.from('N'));
        return true;
      case StartupCode.cancelRequest:
        if (body.length === 8) this.ctx.cancel(body.readInt32BE(0), body.readInt32BE(4));
        this.close();
        return false;
      case StartupCode.protocol3:
        await this.startSession(body);
        return true;
      default:
        this.fatal(new SqlError(SqlState.protocolViolation, `unsupported frontend protocol ${code >> 16}.${code & 0xffff}: server supports 3.0`));
        return false;
    }
  }

  private async startSession(body: Buffer): Promise<void> {
    let params: Map<string, string>;
    try {
      params = decodeStartupParams(body);
    } catch (err) {
      this.fatal(err instanceof SqlError ? err : new SqlError(SqlState.protocolViolation, 'invalid startup packet layout'));
      return;
    }
    const user = params.get('user') ?? '';
    const database = params.get('database') || 'materialize';
    if (this.ctx.tls?.required && !(this.socket instanceof TLSSocket)) {
      this.log.warn({ user, remote: this.socket.remoteAddress }, 'connection refused: TLS required');
      this.fatal(
        new SqlError(SqlState.invalidAuthorizationSpecification, 'this server accepts only TLS connections (--tls-mode require)', {
          hint: 'Connect with sslmode=require, or verify-full with the server\'s CA certificate.',
        }),
      );
      return;
    }
    if (this.ctx.auth === 'password') {
      await this.askPassword(user, database, params);
      return;
    }
    await this.openSession(user, database, params);
  }

  /** Offer SCRAM (PLUS first on TLS: bound to our certificate) and wait for the client's answer. */
  private async askPassword(user: string, database: string, params: Map<string, string>): Promise<void> {
    const certificate = this.socket instanceof TLSSocket ? this.socket.getCertificate() : undefined;
    const der = certificate && 'raw' in certificate ? (certificate.raw as Buffer | undefined) : undefined;
    const hash = der && certificateHash(der);
    const verifier = await this.ctx.verifierFor(user);
    this.pendingLogin = { user, database, params, exchange: new ScramExchange(verifier, hash), step: 'first' };
    this.state = 'authenticating';
    this.write(msg.authenticationSasl(scramMechanisms(hash)));
  }

  /** One message of the SCRAM exchange: SASLInitialResponse, then SASLResponse. */
  private async readPassword(): Promise<boolean> {
    const code = this.input.byteAt(0);
    const len = this.input.int32At(1);
    if (code === undefined || len === undefined) return false;
    if (code !== FrontendCode.password || len < 4 || len > 64 * 1024) {
      this.fatal(new SqlError(SqlState.protocolViolation, `expected SASL response, got message type ${code}`));
      return false;
    }
    if (this.input.length < len + 1) return false;
    const body = this.input.take(len + 1).subarray(5);
    const login = this.pendingLogin!;
    try {
      if (login.step === 'first') {
        const end = body.indexOf(0);
        if (end < 0 || body.length < end + 5) throw new ScramFailure('malformed', 'malformed SASLInitialResponse message');
        const mechanism = body.toString('utf8', 0, end);
        const length = body.readInt32BE(end + 1);
        const data = length < 0 ? '' : body.toString('utf8', end + 5, end + 5 + length);
        this.write(msg.authenticationSaslContinue(login.exchange.start(mechanism, data)));
        login.step = 'final';
        return true;
      }
      const serverFinal = login.exchange.finish(body.toString('utf8'));
      this.ctx.loginSucceeded(login.user, this.socket.remoteAddress);
      this.write(msg.authenticationSaslFinal(serverFinal));
    } catch (err) {
      if (!(err instanceof ScramFailure)) throw err;
      this.pendingLogin = undefined;
      if (err.kind === 'malformed') {
        this.fatal(new SqlError(SqlState.protocolViolation, err.message));
        return false;
      }
      // The same answer, after the same wait, whether the user exists or not.
      await this.ctx.loginFailed(login.user, this.socket.remoteAddress, err.message);
      this.fatal(new SqlError(SqlState.invalidPassword, `password authentication failed for user "${login.user}"`));
      return false;
    }
    this.pendingLogin = undefined;
    await this.openSession(login.user, login.database, login.params);
    return true;
  }

  /** The login is authenticated (or trusted): the session begins. */
  private async openSession(user: string, database: string, params: Map<string, string>): Promise<void> {
    try {
      const role = await this.ctx.login(user, database, this.pid);
      this.session = new Session(this.pid, role, database, this.ctx.statementTimeoutMs);
    } catch (err) {
      if (!(err instanceof SqlError)) this.log.error({ err }, 'login failed');
      this.fatal(toSqlError(err));
      return;
    }
    clearTimeout(this.startupTimer);
    this.log = this.log.child({ user });
    for (const [key, value] of params) {
      if (key === 'user' || key === 'database' || key === 'options' || key === 'replication') continue;
      if (!SETTINGS[key.toLowerCase()] || SETTINGS[key.toLowerCase()]!.readOnly) continue; // PostgreSQL would refuse; drivers send extras
      try {
        this.session.set(key, value);
      } catch {
        // An unusable startup setting keeps its default.
      }
    }
    this.state = 'ready';
    this.write(msg.authenticationOk());
    for (const [key, spec] of Object.entries(SETTINGS)) {
      if (spec.reported) this.write(msg.parameterStatus(spec.display, this.session.get(key)));
    }
    this.write(msg.backendKeyData(this.pid, this.secretKey));
    this.write(msg.readyForQuery('I'));
    const tls = this.socket instanceof TLSSocket ? this.socket.getProtocol() : undefined;
    this.log.info({ database, application: this.session.get('application_name'), tls: tls ?? 'none', remote: this.socket.remoteAddress }, 'session started');
  }

  private async readMessage(): Promise<boolean> {
    const code = this.input.byteAt(0);
    const len = this.input.int32At(1);
    if (code === undefined || len === undefined) return false;
    if (len < 4) {
      this.fatal(new SqlError(SqlState.protocolViolation, `invalid message length ${len}`));
      return false;
    }
    if (len > this.ctx.limits.maxMessageBytes) {
      // Said at once, and the rest of the upload is never read.
      this.fatal(
        new SqlError(SqlState.protocolViolation, `invalid message length ${len}: the limit is ${this.ctx.limits.maxMessageBytes} bytes`, {
          hint: 'Send smaller statements, or raise --max-message-bytes.',
        }),
      );
      return false;
    }
    if (this.input.length < len + 1) return false;
    const body = this.input.take(len + 1).subarray(5);
    let message: FrontendMessage | undefined;
    try {
      message = decodeMessage(code, body);
    } catch (err) {
      if (err instanceof SqlError) {
        // Bad text (invalid UTF-8) in a whole message: an error for that statement, not the connection.
        this.fail(err);
        if (code === FrontendCode.query) this.write(msg.readyForQuery(this.session!.transactionStatus));
        else this.skipUntilSync = true;
        return true;
      }
      if (!(err instanceof MalformedMessage)) throw err;
      this.fatal(new SqlError(SqlState.protocolViolation, `malformed message: ${err.message}`));
      return false;
    }
    if (!message) {
      const shown = code >= 0x20 && code < 0x7f ? `'${String.fromCharCode(code)}'` : `0x${code.toString(16)}`;
      this.fatal(new SqlError(SqlState.protocolViolation, `invalid frontend message type ${shown}`));
      return false;
    }
    await this.handle(message);
    return this.state === 'ready';
  }

  private async handle(m: FrontendMessage): Promise<void> {
    if (this.skipUntilSync && m.type !== 'sync' && m.type !== 'terminate') return;
    switch (m.type) {
      case 'query':
        return this.simpleQuery(m.sql);
      case 'parse':
        return this.extendedStep(() => this.parse(m));
      case 'bind':
        return this.extendedStep(() => this.bind(m));
      case 'describe':
        return this.extendedStep(() => this.describe(m.target, m.name));
      case 'execute':
        return this.extendedStep(() => this.execute(m.portal, m.maxRows));
      case 'close':
        this.statements.close(m.target === 'S' ? 'statement' : 'portal', m.name);
        this.write(msg.closeComplete());
        return;
      case 'sync':
        this.skipUntilSync = false;
        this.statements.endSync();
        this.write(msg.readyForQuery(this.session!.transactionStatus));
        return;
      case 'flush':
        this.flush();
        return;
      case 'terminate':
        this.close();
        return;
      case 'password':
        this.fatal(new SqlError(SqlState.protocolViolation, 'unexpected password message'));
        return;
      case 'unsupported':
        this.fail(new SqlError(SqlState.featureNotSupported, `${m.what} is not supported`));
        if (m.what !== 'COPY') this.skipUntilSync = true;
        else this.write(msg.readyForQuery(this.session!.transactionStatus));
        return;
    }
  }

  // ---- simple query --------------------------------------------------------------------

  /**
   * A Query message. Several statements in it form one implicit transaction, as in
   * PostgreSQL: their catalog changes apply together at the end, or not at all.
   */
  private async simpleQuery(sql: string): Promise<void> {
    const session = this.session!;
    let statements;
    try {
      statements = splitStatements(sql);
    } catch (err) {
      this.fail(toSqlError(err));
      this.logStatement(sql, undefined, Date.now(), toSqlError(err));
      this.write(msg.readyForQuery(session.transactionStatus));
      return;
    }
    if (statements.length === 0) this.write(msg.emptyQueryResponse());
    if (statements.length > 1 && !session.inTransaction) session.implicitBlock = true;
    let succeeded = true;
    for (const st of statements) {
      const started = Date.now();
      let classified: Classified | undefined;
      try {
        classified = classify(st.text, st.tokens);
        const outcome = await this.ctx.executor.execute(session, classified, SIMPLE, this.cancelSignal());
        this.afterSessionCommand(classified);
        const failed = this.writeOutcome(outcome);
        this.logStatement(st.text, classified, started, failed ? 'engine error' : undefined);
        if (failed) {
          succeeded = false;
          break;
        }
      } catch (err) {
        const e = toSqlError(err).shifted(st.offset);
        this.logStatement(st.text, classified, started, e, err);
        this.fail(e);
        succeeded = false;
        break;
      }
    }
    try {
      await this.ctx.executor.endImplicitBlock(session, succeeded);
    } catch (err) {
      this.logStatement('COMMIT', undefined, Date.now(), toSqlError(err), err);
      this.fail(toSqlError(err));
    }
    this.write(msg.readyForQuery(session.transactionStatus));
  }

  /** Write an outcome's messages; returns whether it carried an engine error. */
  private writeOutcome(outcome: Outcome, portal?: { describe: boolean }): boolean {
    switch (outcome.kind) {
      case 'command':
        for (const n of outcome.notices) this.write(msg.noticeResponse(n.code, n.message, n.hint ? { hint: n.hint } : {}, n.severity ?? 'NOTICE'));
        this.write(outcome.tag === '' ? msg.emptyQueryResponse() : msg.commandComplete(outcome.tag));
        for (const [name, value] of outcome.parameterStatus) this.write(msg.parameterStatus(name, value));
        return false;
      case 'rows':
        if (!portal || portal.describe) this.write(msg.textRowDescription(outcome.columns));
        for (const row of outcome.rows) this.write(msg.dataRow(row));
        this.write(msg.commandComplete(`${outcome.tag}`));
        return false;
      case 'engine': {
        let failed = false;
        for (const f of outcome.frames) {
          // The engine's answer to the store's Describe of a read that returns no rows (COPY ...
          // TO STDOUT): a simple Query has no Describe, so no NoData either.
          if (f.type === 'n' && !portal) continue;
          if (f.type === 'E') failed = true;
          this.write(f.bytes);
        }
        if (failed) this.markFailed();
        return failed;
      }
    }
  }

  /** DEALLOCATE and DISCARD ALL also reach the protocol's prepared statements and portals. */
  private afterSessionCommand(c: Classified): void {
    if (c.kind !== 'gated') return;
    if (c.gated.kind === 'deallocate') this.statements.deallocate(c.gated.name);
    if (c.gated.kind === 'discard_all') this.statements.clear();
  }

  // ---- extended query ------------------------------------------------------------------

  /** Run one extended-protocol step; an error skips everything up to the next Sync. */
  private async extendedStep(step: () => Promise<void> | void): Promise<void> {
    try {
      await step();
    } catch (err) {
      if (!(err instanceof EngineError) && !(err instanceof SqlError)) this.log.error({ err }, 'extended query step failed');
      this.fail(err instanceof EngineError ? err : toSqlError(err));
      this.skipUntilSync = true;
    }
  }

  /** The session's prepared statements and portals; pgwire is the only one that fills them, always with Classified. */
  private get statements(): PreparedStatements<Classified> {
    return this.session!.statements as PreparedStatements<Classified>;
  }

  private parse(m: Extract<FrontendMessage, { type: 'parse' }>): void {
    this.statements.prepare(m.name, () => {
      this.ctx.executor.checkParamTypes(m.paramTypes);
      const parts = splitStatements(m.sql);
      if (parts.length > 1) throw new SqlError(SqlState.syntaxError, 'cannot insert multiple commands into a prepared statement');
      const st = parts[0];
      const classified = st ? classify(st.text, st.tokens) : ({ kind: 'empty' } as const);
      return { text: st?.text ?? '', classified, paramTypes: m.paramTypes };
    });
    this.write(msg.parseComplete());
  }

  private bind(m: Extract<FrontendMessage, { type: 'bind' }>): void {
    this.statements.bind(m.portal, m.statement, m, paramRule);
    this.write(msg.bindComplete());
  }

  private async describe(target: 'S' | 'P', name: string): Promise<void> {
    if (target === 'P') {
      const portal = this.statements.portal(name);
      if (!returnsRows(portal.statement.classified)) {
        this.write(msg.noData());
        return;
      }
      const result = await this.runPortal(portal);
      this.write(result.description);
      return;
    }
    await this.describeStatement(this.statements.statement(name));
  }

  /** ParameterDescription and RowDescription (or NoData) for a prepared statement. */
  private async describeStatement(prepared: PreparedStatement<Classified>): Promise<void> {
    const c = prepared.classified;
    if (!returnsRows(c)) {
      // Our statements' parameters are text unless the client said otherwise.
      const count = c.kind === 'own' ? Math.max(paramCount(c.stmt), prepared.paramTypes.length) : prepared.paramTypes.length;
      this.write(msg.parameterDescription(Array.from({ length: count }, (_, i) => prepared.paramTypes[i] || TEXT_OID)));
      this.write(msg.noData());
      return;
    }
    if (c.kind === 'gated' && c.gated.kind === 'show' && SETTINGS[c.gated.name]) {
      this.write(msg.parameterDescription([]));
      this.write(msg.textRowDescription([c.gated.name]));
      return;
    }
    for (const f of await this.ctx.executor.describe(this.session!, c, prepared.paramTypes)) {
      if (f.type === 'E') throw new EngineError(f.bytes);
      if (f.type === 't' || f.type === 'T' || f.type === 'n') this.write(f.bytes);
    }
  }

  private async execute(name: string, maxRows: number): Promise<void> {
    const portal = this.statements.portal(name);
    const started = Date.now();
    const { text, classified } = portal.statement;
    try {
      await this.executePortal(portal, maxRows);
      this.logStatement(text, classified, started, undefined);
    } catch (err) {
      this.logStatement(text, classified, started, err instanceof EngineError ? 'engine error' : toSqlError(err), err);
      throw err;
    }
  }

  private async executePortal(portal: Portal<Classified>, maxRows: number): Promise<void> {
    const c = portal.statement.classified;
    if (!returnsRows(c)) {
      portal.markRun();
      const outcome = await this.ctx.executor.execute(this.session!, c, this.howOf(portal), this.cancelSignal());
      this.afterSessionCommand(c);
      this.writeOutcome(outcome, { describe: false });
      return;
    }
    const result = await this.runPortal(portal);
    const { rows, suspended } = portal.takeRows(maxRows);
    for (const row of rows) this.write(row);
    if (suspended) {
      this.write(msg.portalSuspended());
      return;
    }
    for (const f of result.completion) this.write(f);
  }

  /** Run a row-returning portal once in the engine; the portal keeps its rows for Execute. */
  private async runPortal(portal: Portal<Classified>): Promise<PortalResult> {
    if (portal.result) return portal.result;
    const outcome = await this.ctx.executor.execute(this.session!, portal.statement.classified, this.howOf(portal), this.cancelSignal());
    let result: PortalResult;
    if (outcome.kind === 'rows') {
      result = { description: msg.textRowDescription(outcome.columns), rows: outcome.rows.map((r) => msg.dataRow(r)), completion: [msg.commandComplete(outcome.tag)] };
    } else if (outcome.kind === 'engine') {
      let description = msg.noData();
      const rows: Buffer[] = [];
      const completion: Buffer[] = [];
      for (const f of outcome.frames) {
        if (f.type === 'E') throw new EngineError(f.bytes);
        if (f.type === 'T' || f.type === 'n') description = f.bytes;
        else if (f.type === 'D') rows.push(f.bytes);
        // COPY ... TO STDOUT: CopyOutResponse, CopyData and CopyDone come whole at Execute, before its CommandComplete.
        else if (f.type === 'C' || f.type === 'N' || f.type === 'I' || f.type === 'H' || f.type === 'd' || f.type === 'c') completion.push(f.bytes);
      }
      result = { description, rows, completion };
    } else {
      result = { description: msg.noData(), rows: [], completion: [msg.commandComplete(outcome.tag)] };
    }
    return portal.hold(result);
  }

  private howOf(portal: Portal<Classified>): ReadHow {
    return { kind: 'portal', paramTypes: portal.statement.paramTypes, bind: portal.values };
  }

  // ---- cancellation --------------------------------------------------------------------

  /** The signal for the statement about to run; a CancelRequest aborts it. */
  private cancelSignal(): AbortSignal {
    this.running = new AbortController();
    return this.running.signal;
  }

  /**
   * A CancelRequest for this session: stops the statement running now, wherever it is:
   * waiting for the engine, running in it (the engine is restarted), or calling STS.
   */
  cancel(): void {
    if (this.busy) this.running?.abort();
  }

  // ---- errors, output, lifecycle -------------------------------------------------------

  /** Send an ErrorResponse for a failed statement and fail an open transaction block. */
  private fail(err: SqlError | EngineError): void {
    this.write(err instanceof EngineError ? err.frame : msg.errorResponse(err));
    this.markFailed();
  }

  private markFailed(): void {
    if (this.session && this.session.transactionStatus === 'T') this.session.transactionStatus = 'E';
  }

  private fatal(err: SqlError): void {
    if (this.state === 'closed') return;
    this.write(msg.errorResponse(new SqlError(err.code, err.message, { detail: err.detail, hint: err.hint, severity: 'FATAL' })));
    this.log.info({ code: err.code, message: err.message }, 'connection closed by server');
    this.close();
  }

  private logStatement(text: string, c: Classified | undefined, started: number, error: SqlError | string | undefined, cause?: unknown): void {
    const sql = redactForLog(text, c);
    const durationMs = Date.now() - started;
    if (error === undefined) this.log.info({ sql, outcome: 'ok', durationMs }, 'statement');
    else if (typeof error === 'string') this.log.info({ sql, outcome: error, durationMs }, 'statement');
    else if (error.code === SqlState.internalError) this.log.error({ sql, outcome: error.code, durationMs, err: cause }, 'statement failed');
    else this.log.info({ sql, outcome: error.code, durationMs }, 'statement');
  }

  private write(bytes: Buffer): void {
    this.output.push(bytes);
    this.outputBytes += bytes.length;
  }

  private flush(): void {
    if (this.output.length === 0) return;
    if (!this.socket.destroyed) this.socket.write(this.output.length === 1 ? this.output[0]! : Buffer.concat(this.output));
    this.output = [];
    this.outputBytes = 0;
  }

  close(): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    clearTimeout(this.startupTimer);
    this.stopIdleTimer();
    this.running?.abort();
    this.flush();
    this.input.clear();
    // Stop reading at once (an oversized upload is not read to its end), say goodbye, and let go
    // of the socket when the goodbye is written, or soon if the client never takes it.
    this.socket.pause();
    this.socket.end();
    const destroy = (): void => {
      this.socket.destroy();
    };
    this.socket.once('finish', destroy);
    setTimeout(destroy, 1000).unref();
    this.ctx.closed(this);
  }

  /**
   * Server shutdown: an idle (or half-started) session is told and closed now; one running a
   * statement is closed as soon as its answer is written.
   */
  shutdown(): void {
    if (this.busy) {
      this.draining = true;
      return;
    }
    this.fatal(new SqlError(SqlState.adminShutdown, 'terminating connection due to administrator command'));
  }

  /** End of the shutdown grace period: gone, whatever it was doing. */
  destroy(): void {
    this.close();
    this.socket.destroy();
  }
}

/** How many Bind values a statement takes: ours their highest $n, a read what the engine decides, the rest none. */
function paramRule(c: Classified): ParamRule {
  if (c.kind === 'own') return { kind: 'exactly', count: paramCount(c.stmt) };
  if (c.kind === 'gated' && c.gated.kind === 'read') return { kind: 'any' };
  return { kind: 'none' };
}

/** An error the engine reported for a client's read, kept as its own ErrorResponse frame. */
class EngineError extends Error {
  constructor(readonly frame: Buffer) {
    super('engine error');
  }
}
