/**
 * An STS (and minimal IAM) emulator speaking the real AWS Query wire protocol the AWS SDK
 * uses: form-encoded POSTs, XML answers, SigV4 signatures verified over exactly the headers
 * each client signed (./sigv4.ts; botocore, the AWS CLI and the AWS SDK for JavaScript each
 * sign a different set). Trust policies are evaluated by ./trust-policy.ts. Faults (latency,
 * throttling, 5xx, dropped connections, errors quoting the request's credentials) are injected
 * on request through /__emulator/.
 *
 * Access keys whose id is 12 digits are the root of that account with secret "test"
 * (LocalStack's convention), so tests can create users and roles in several accounts.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  ALGORITHM,
  MissingSignedHeaderError,
  canonicalRequest,
  constantTimeEqual,
  headersFromRaw,
  parseAuthorization,
  requestTime,
  sha256Hex,
  signatureOf,
  signingKey,
  stringToSign,
} from './sigv4.js';
import { evaluateTrustPolicy, type Caller } from './trust-policy.js';

const STS_NS = 'https://sts.amazonaws.com/doc/2011-06-15/';
const IAM_NS = 'https://iam.amazonaws.com/doc/2010-05-08/';
const ROOT_SECRET = 'test';
const MAX_CHAINED_SECONDS = 3600;
const STS_ACTIONS = new Set(['AssumeRole', 'GetCallerIdentity']);

interface Principal {
  readonly account: string;
  readonly arn: string;
  readonly userId: string;
  /** For assumed-role sessions. */
  readonly roleArn?: string;
}

interface KeyRecord {
  readonly secret: string;
  readonly principal: Principal;
  readonly sessionToken?: string;
  expiresAt?: number;
  /** Whether these credentials came from AssumeRole (so a further AssumeRole is chained). */
  readonly assumed: boolean;
}

interface Role {
  readonly name: string;
  readonly arn: string;
  readonly id: string;
  readonly path: string;
  readonly account: string;
  trustPolicy: string;
  readonly created: string;
}

/** One request as the emulator saw it, for tests to assert on. */
export interface LoggedRequest {
  readonly action: string;
  readonly accessKeyId: string | undefined;
  readonly params: Readonly<Record<string, string>>;
  readonly status: number;
  readonly code?: string;
  /** The error message answered, if any (to find what an echo-authorization answer quoted). */
  readonly message?: string;
  readonly requestId: string;
}

export interface Faults {
  /** Added before answering every request. */
  latencyMs?: number;
  /** The next N requests answer Throttling (HTTP 400). */
  throttleNext?: number;
  /** The next N requests answer 503 ServiceUnavailable. */
  failNext?: number;
  /** The next N requests have their connection dropped. */
  dropNext?: number;
  /** The next N requests never answer. */
  hangNext?: number;
  /**
   * The next N STS requests (AssumeRole, GetCallerIdentity) answer 400 IncompleteSignature
   * quoting their Authorization header and session token, as AWS does for a malformed
   * signature: what a client does with AWS's error text must not leak them.
   */
  echoAuthorizationNext?: number;
}

class StsError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly type: 'Sender' | 'Receiver' = 'Sender',
  ) {
    super(message);
  }
}

/** AWS's IncompleteSignature answer, quoting the request's Authorization header (and session token) back. */
function echoAuthorization(req: IncomingMessage): StsError {
  const token = req.headers['x-amz-security-token'];
  return new StsError(
    400,
    'IncompleteSignature',
    `Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. Authorization=${req.headers.authorization ?? ''}` +
      (typeof token === 'string' ? ` X-Amz-Security-Token: ${token}` : ''),
  );
}

const xmlEscape = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const id = (prefix: string, n = 16): string => prefix + randomBytes(n).toString('hex').toUpperCase().slice(0, n);

export class StsEmulator {
  private server: Server | undefined;
  private readonly keys = new Map<string, KeyRecord>();
  private readonly roles = new Map<string, Role>(); // by ARN without path: arn:aws:iam::<acct>:role/<name>
  private readonly users = new Map<string, Principal>(); // by arn
  readonly requests: LoggedRequest[] = [];
  faults: Faults = {};
  /** Added to the emulator's clock (to expire sessions in tests). */
  clockSkewMs = 0;

  async start(port = 0, host = '127.0.0.1'): Promise<string> {
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve) => this.server!.listen(port, host, resolve));
    return this.url;
  }

  get url(): string {
    const a = this.server!.address() as AddressInfo;
    return `http://${a.address}:${a.port}`;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => this.server?.close(() => resolve()) ?? resolve());
  }

  private now(): number {
    return Date.now() + this.clockSkewMs;
  }

  // ---- HTTP ----------------------------------------------------------------------------

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks);
    if (req.url?.startsWith('/__emulator/')) return this.admin(req, res, body);
    const requestId = randomUUID();
    const params = Object.fromEntries(new URLSearchParams(body.toString('utf8')));
    const action = params.Action ?? '';
    const accessKeyId = /Credential=([^/]+)\//.exec(req.headers.authorization ?? '')?.[1];
    const log = (status: number, code?: string, message?: string): void => {
      this.requests.push({ action, accessKeyId, params, status, code, message, requestId });
    };
    const f = this.faults;
    if (f.latencyMs) await new Promise((r) => setTimeout(r, f.latencyMs));
    if (f.hangNext && f.hangNext > 0) {
      f.hangNext--;
      log(0, 'Hang');
      return; // never answer
    }
    if (f.dropNext && f.dropNext > 0) {
      f.dropNext--;
      log(0, 'Dropped');
      req.socket.destroy();
      return;
    }
    try {
      if (f.throttleNext && f.throttleNext > 0) {
        f.throttleNext--;
        throw new StsError(400, 'Throttling', 'Rate exceeded');
      }
      if (f.failNext && f.failNext > 0) {
        f.failNext--;
        throw new StsError(503, 'ServiceUnavailable', 'Service is unavailable', 'Receiver');
      }
      if (f.echoAuthorizationNext && f.echoAuthorizationNext > 0 && STS_ACTIONS.has(action)) {
        f.echoAuthorizationNext--;
        throw echoAuthorization(req);
      }
      const caller = this.authenticate(req, body);
      const xml = this.dispatch(action, params, caller, requestId);
      log(200);
      res.writeHead(200, { 'content-type': 'text/xml', 'x-amzn-requestid': requestId });
      res.end(xml);
    } catch (err) {
      const e = err instanceof StsError ? err : new StsError(500, 'InternalFailure', (err as Error).message, 'Receiver');
      log(e.status, e.code, e.message);
      const ns = action.startsWith('Get') || action === 'AssumeRole' ? STS_NS : IAM_NS;
      res.writeHead(e.status, { 'content-type': 'text/xml', 'x-amzn-requestid': requestId });
      res.end(
        `<ErrorResponse xmlns="${ns}"><Error><Type>${e.type}</Type><Code>${e.code}</Code><Message>${xmlEscape(e.message)}</Message></Error><RequestId>${requestId}</RequestId></ErrorResponse>`,
      );
    }
  }

  /** GET /__emulator/requests, POST /__emulator/faults {json}, POST /__emulator/reset. */
  private admin(req: IncomingMessage, res: ServerResponse, body: Buffer): void {
    const path = req.url!.replace('/__emulator/', '');
    if (path === 'requests') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(this.requests));
      return;
    }
    if (path === 'faults' && req.method === 'POST') {
      this.faults = JSON.parse(body.toString('utf8') || '{}') as Faults;
    } else if (path === 'clock' && req.method === 'POST') {
      this.clockSkewMs = Number((JSON.parse(body.toString('utf8')) as { skewMs: number }).skewMs);
    } else if (path === 'reset' && req.method === 'POST') {
      this.requests.length = 0;
      this.faults = {};
      this.clockSkewMs = 0;
    } else {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(204).end();
  }

  // ---- SigV4 ---------------------------------------------------------------------------

  /**
   * Verify the request's SigV4 signature over exactly the headers the client signed, with the
   * body hashed here (never taken from x-amz-content-sha256), and its session token; return
   * who signed it.
   */
  private authenticate(req: IncomingMessage, body: Buffer): Principal & { assumed: boolean } {
    const target = req.url ?? '/';
    const q = target.indexOf('?');
    const path = q < 0 ? target : target.slice(0, q);
    const query = q < 0 ? '' : target.slice(q + 1);
    if (/(?:^|&)X-Amz-(?:Signature|Credential|Algorithm)=/i.test(query)) {
      throw new StsError(400, 'InvalidRequest', 'This STS emulator does not accept query-string authentication (presigned URLs): sign the request with an Authorization header.');
    }
    const authorization = req.headers.authorization;
    if (authorization === undefined) throw new StsError(403, 'MissingAuthenticationToken', 'Request is missing Authentication Token');
    const auth = parseAuthorization(authorization);
    if (!auth) {
      throw new StsError(400, 'IncompleteSignature', `The Authorization header is not of the form '${ALGORITHM} Credential=<access key id>/<date>/<region>/<service>/aws4_request, SignedHeaders=<a;b;c>, Signature=<64 hex digits>'.`);
    }
    const key = this.lookupKey(auth.accessKeyId);
    if (!key) throw new StsError(403, 'InvalidClientTokenId', 'The security token included in the request is invalid.');
    const token = req.headers['x-amz-security-token'];
    if (token !== undefined ? key.sessionToken === undefined || !constantTimeEqual(String(token), key.sessionToken) : key.sessionToken !== undefined) {
      throw new StsError(403, 'InvalidClientTokenId', 'The security token included in the request is invalid.');
    }
    if (key.expiresAt !== undefined && this.now() >= key.expiresAt) {
      throw new StsError(400, 'ExpiredToken', 'The security token included in the request is expired');
    }
    const headers = headersFromRaw(req.rawHeaders);
    // The payload hash is the body's, computed here. A client that also sends
    // x-amz-content-sha256 must have sent the truth there (UNSIGNED-PAYLOAD is not accepted).
    const payloadHash = sha256Hex(body);
    const declared = headers.get('x-amz-content-sha256');
    if (declared && (declared.length !== 1 || declared[0]!.trim() !== payloadHash)) {
      throw new StsError(
        400,
        'XAmzContentSHA256Mismatch',
        declared[0]!.trim() === 'UNSIGNED-PAYLOAD'
          ? 'x-amz-content-sha256: UNSIGNED-PAYLOAD is not accepted: this emulator verifies the SHA-256 of the body.'
          : 'The provided x-amz-content-sha256 header does not match what was computed.',
      );
    }
    const time = requestTime(headers.get('x-amz-date')?.[0], headers.get('date')?.[0]);
    if (!time) throw new StsError(400, 'IncompleteSignature', "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header (X-Amz-Date as YYYYMMDD'T'HHMMSS'Z').");
    if (Math.abs(time.time.getTime() - Date.now()) > 15 * 60 * 1000) {
      throw new StsError(403, 'SignatureDoesNotMatch', 'Signature expired: the request time is too far from the server time');
    }
    if (!time.amzDate.startsWith(auth.date)) {
      throw new StsError(403, 'SignatureDoesNotMatch', `Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '${auth.date}' != '${time.amzDate.slice(0, 8)}'`);
    }
    if (!auth.signedHeaders.includes('host')) throw new StsError(400, 'IncompleteSignature', 'The host header must be among the SignedHeaders.');
    let canonical: string;
    try {
      canonical = canonicalRequest({ method: req.method ?? 'POST', path, query, headers, signedHeaders: auth.signedHeaders, payloadHash });
    } catch (err) {
      if (err instanceof MissingSignedHeaderError) throw new StsError(403, 'SignatureDoesNotMatch', `The request signature we calculated does not match the signature you provided: ${err.message}.`);
      throw err;
    }
    const expected = signatureOf(signingKey(key.secret, auth.date, auth.region, auth.service), stringToSign(time.amzDate, auth.scope, canonical));
    if (!constantTimeEqual(expected, auth.signature)) {
      throw new StsError(403, 'SignatureDoesNotMatch', 'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method.');
    }
    return { ...key.principal, assumed: key.assumed };
  }

  private lookupKey(keyId: string): KeyRecord | undefined {
    const known = this.keys.get(keyId);
    if (known) return known;
    if (keyId === 'test') keyId = '000000000000';
    if (/^\d{12}$/.test(keyId)) {
      const root = `arn:aws:iam::${keyId}:root`;
      return { secret: ROOT_SECRET, principal: { account: keyId, arn: root, userId: keyId }, assumed: false };
    }
    return undefined;
  }

  // ---- actions -------------------------------------------------------------------------

  private dispatch(action: string, p: Record<string, string>, caller: Principal & { assumed: boolean }, requestId: string): string {
    switch (action) {
      case 'GetCallerIdentity':
        return `<GetCallerIdentityResponse xmlns="${STS_NS}"><GetCallerIdentityResult><Arn>${xmlEscape(caller.arn)}</Arn><UserId>${xmlEscape(caller.userId)}</UserId><Account>${caller.account}</Account></GetCallerIdentityResult><ResponseMetadata><RequestId>${requestId}</RequestId></ResponseMetadata></GetCallerIdentityResponse>`;
      case 'AssumeRole':
        return this.assumeRole(p, caller, requestId);
      case 'CreateUser':
        return this.createUser(p, caller, requestId);
      case 'CreateAccessKey':
        return this.createAccessKey(p, caller, requestId);
      case 'CreateRole':
        return this.createRole(p, caller, requestId);
      case 'UpdateAssumeRolePolicy': {
        const role = this.role(caller.account, p.RoleName ?? '');
        this.parsePolicy(p.PolicyDocument ?? '');
        role.trustPolicy = p.PolicyDocument ?? '';
        return `<UpdateAssumeRolePolicyResponse xmlns="${IAM_NS}"><ResponseMetadata><RequestId>${requestId}</RequestId></ResponseMetadata></UpdateAssumeRolePolicyResponse>`;
      }
      case 'DeleteRole': {
        const role = this.role(caller.account, p.RoleName ?? '');
        this.roles.delete(`arn:aws:iam::${role.account}:role/${role.name}`);
        return `<DeleteRoleResponse xmlns="${IAM_NS}"><ResponseMetadata><RequestId>${requestId}</RequestId></ResponseMetadata></DeleteRoleResponse>`;
      }
      default:
        throw new StsError(400, 'InvalidAction', `Could not find operation ${action}`);
    }
  }

  private assumeRole(p: Record<string, string>, caller: Principal & { assumed: boolean }, requestId: string): string {
    const roleArn = p.RoleArn ?? '';
    const session = p.RoleSessionName ?? '';
    if (!/^[\w+=,.@-]{2,64}$/.test(session)) throw new StsError(400, 'ValidationError', `1 validation error detected: Value '${session}' at 'roleSessionName' failed to satisfy constraint`);
    const duration = p.DurationSeconds ? Number(p.DurationSeconds) : 3600;
    if (duration < 900 || duration > 43200) throw new StsError(400, 'ValidationError', 'DurationSeconds must be between 900 and 43200');
    if (caller.assumed && duration > MAX_CHAINED_SECONDS) {
      throw new StsError(400, 'ValidationError', 'The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining.');
    }
    const denied = new StsError(403, 'AccessDenied', `User: ${caller.arn} is not authorized to perform: sts:AssumeRole on resource: ${roleArn}`);
    const m = /^arn:aws[a-z-]*:iam::(\d{12}):role\/(?:.*\/)?([\w+=,.@-]+)$/.exec(roleArn);
    const role = m ? this.roles.get(`arn:aws:iam::${m[1]}:role/${m[2]}`) : undefined;
    if (!role) throw denied;
    const who: Caller = { account: caller.account, arn: caller.arn, roleArn: caller.roleArn };
    if (evaluateTrustPolicy(this.parsePolicy(role.trustPolicy), who, p.ExternalId) !== 'allow') throw denied;
    const accessKeyId = id('ASIA');
    const secret = randomBytes(30).toString('base64');
    const token = randomBytes(48).toString('base64');
    const expiresAt = this.now() + duration * 1000;
    const sessionArn = `arn:aws:sts::${role.account}:assumed-role/${role.name}/${session}`;
    this.keys.set(accessKeyId, {
      secret,
      sessionToken: token,
      expiresAt,
      assumed: true,
      principal: { account: role.account, arn: sessionArn, userId: `${role.id}:${session}`, roleArn: `arn:aws:iam::${role.account}:role/${role.name}` },
    });
    return `<AssumeRoleResponse xmlns="${STS_NS}"><AssumeRoleResult><AssumedRoleUser><AssumedRoleId>${role.id}:${xmlEscape(session)}</AssumedRoleId><Arn>${xmlEscape(sessionArn)}</Arn></AssumedRoleUser><Credentials><AccessKeyId>${accessKeyId}</AccessKeyId><SecretAccessKey>${xmlEscape(secret)}</SecretAccessKey><SessionToken>${xmlEscape(token)}</SessionToken><Expiration>${new Date(expiresAt).toISOString()}</Expiration></Credentials></AssumeRoleResult><ResponseMetadata><RequestId>${requestId}</RequestId></ResponseMetadata></AssumeRoleResponse>`;
  }

  private createUser(p: Record<string, string>, caller: Principal, requestId: string): string {
    const name = p.UserName ?? '';
    const arn = `arn:aws:iam::${caller.account}:user/${name}`;
    if (this.users.has(arn)) throw new StsError(409, 'EntityAlreadyExists', `User with name ${name} already exists.`);
    const user: Principal = { account: caller.account, arn, userId: id('AIDA') };
    this.users.set(arn, user);
    return `<CreateUserResponse xmlns="${IAM_NS}"><CreateUserResult><User><Path>/</Path><UserName>${xmlEscape(name)}</UserName><UserId>${user.userId}</UserId><Arn>${xmlEscape(arn)}</Arn><CreateDate>${new Date().toISOString()}</CreateDate></User></CreateUserResult><ResponseMetadata><RequestId>${requestId}</RequestId></ResponseMetadata></CreateUserResponse>`;
  }

  private createAccessKey(p: Record<string, string>, caller: Principal, requestId: string): string {
    const name = p.UserName ?? '';
    const user = this.users.get(`arn:aws:iam::${caller.account}:user/${name}`);
    if (!user) throw new StsError(404, 'NoSuchEntity', `The user with name ${name} cannot be found.`);
    const keyId = id('AKIA');
    const secret = randomBytes(30).toString('base64');
    this.keys.set(keyId, { secret, principal: user, assumed: false });
    return `<CreateAccessKeyResponse xmlns="${IAM_NS}"><CreateAccessKeyResult><AccessKey><UserName>${xmlEscape(name)}</UserName><AccessKeyId>${keyId}</AccessKeyId><Status>Active</Status><SecretAccessKey>${xmlEscape(secret)}</SecretAccessKey><CreateDate>${new Date().toISOString()}</CreateDate></AccessKey></CreateAccessKeyResult><ResponseMetadata><RequestId>${requestId}</RequestId></ResponseMetadata></CreateAccessKeyResponse>`;
  }

  private createRole(p: Record<string, string>, caller: Principal, requestId: string): string {
    const name = p.RoleName ?? '';
    const path = p.Path ?? '/';
    const key = `arn:aws:iam::${caller.account}:role/${name}`;
    if (this.roles.has(key)) throw new StsError(409, 'EntityAlreadyExists', `Role with name ${name} already exists.`);
    this.parsePolicy(p.AssumeRolePolicyDocument ?? '');
    const role: Role = {
      name,
      path,
      account: caller.account,
      arn: `arn:aws:iam::${caller.account}:role${path}${name}`,
      id: id('AROA'),
      trustPolicy: p.AssumeRolePolicyDocument ?? '',
      created: new Date().toISOString(),
    };
    this.roles.set(key, role);
    return `<CreateRoleResponse xmlns="${IAM_NS}"><CreateRoleResult><Role><Path>${xmlEscape(path)}</Path><RoleName>${xmlEscape(name)}</RoleName><RoleId>${role.id}</RoleId><Arn>${xmlEscape(role.arn)}</Arn><CreateDate>${role.created}</CreateDate><AssumeRolePolicyDocument>${xmlEscape(encodeURIComponent(role.trustPolicy))}</AssumeRolePolicyDocument></Role></CreateRoleResult><ResponseMetadata><RequestId>${requestId}</RequestId></ResponseMetadata></CreateRoleResponse>`;
  }

  private role(account: string, name: string): Role {
    const role = this.roles.get(`arn:aws:iam::${account}:role/${name}`);
    if (!role) throw new StsError(404, 'NoSuchEntity', `The role with name ${name} cannot be found.`);
    return role;
  }

  private parsePolicy(doc: string): unknown {
    try {
      return JSON.parse(doc);
    } catch {
      throw new StsError(400, 'MalformedPolicyDocument', 'This policy contains invalid Json');
    }
  }
}
