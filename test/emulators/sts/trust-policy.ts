/**
 * A small evaluator of IAM role trust policies: what AssumeRole needs and nothing more.
 * Allow/Deny, sts:AssumeRole actions, AWS principals (account, root, role, assumed-role
 * session, user, *), and StringEquals / StringNotEquals / StringLike / Null conditions.
 */

/** Who is calling AssumeRole, as STS sees it. */
export interface Caller {
  readonly account: string;
  /** The caller's ARN: a user, or arn:aws:sts::<account>:assumed-role/<role>/<session>. */
  readonly arn: string;
  /** For an assumed-role session: the role's ARN. */
  readonly roleArn?: string;
}

export type Decision = 'allow' | 'deny' | 'implicit-deny';

type Json = unknown;

function list(v: Json): Json[] {
  return v === undefined ? [] : Array.isArray(v) ? v : [v];
}

/** IAM wildcard match: * any run, ? one character; case-sensitive. */
export function wildcardMatch(pattern: string, value: string): boolean {
  const re = new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`, 's');
  return re.test(value);
}

function actionMatches(action: Json): boolean {
  return list(action).some((a) => typeof a === 'string' && wildcardMatch(a.toLowerCase(), 'sts:assumerole'));
}

function principalMatches(principal: Json, caller: Caller): boolean {
  if (principal === '*') return true;
  if (principal === null || typeof principal !== 'object') return false;
  return list((principal as Record<string, Json>).AWS).some((p) => {
    if (typeof p !== 'string') return false;
    if (p === '*') return true;
    if (/^\d{12}$/.test(p)) return caller.account === p;
    const root = /^arn:aws[a-z-]*:iam::(\d{12}):root$/.exec(p);
    if (root) return caller.account === root[1];
    if (/^arn:aws[a-z-]*:iam::\d{12}:role\//.test(p)) return caller.roleArn !== undefined && roleArnWithoutPath(caller.roleArn) === roleArnWithoutPath(p);
    return caller.arn === p;
  });
}

function roleArnWithoutPath(arn: string): string {
  const m = /^(arn:aws[a-z-]*:iam::\d{12}:role\/)(?:.*\/)?([^/]+)$/.exec(arn);
  return m ? `${m[1]}${m[2]}` : arn;
}

/** Evaluate one condition block against the request's context keys (lower-cased names). */
function conditionsHold(condition: Json, context: ReadonlyMap<string, string>): boolean {
  if (condition === undefined) return true;
  if (condition === null || typeof condition !== 'object') return false;
  return Object.entries(condition as Record<string, Json>).every(([operator, tests]) => {
    if (tests === null || typeof tests !== 'object') return false;
    return Object.entries(tests as Record<string, Json>).every(([key, expected]) => {
      const actual = context.get(key.toLowerCase());
      const values = list(expected).map(String);
      switch (operator) {
        case 'StringEquals':
          return actual !== undefined && values.includes(actual);
        case 'StringNotEquals':
          return actual === undefined || !values.includes(actual);
        case 'StringLike':
          return actual !== undefined && values.some((v) => wildcardMatch(v, actual));
        case 'StringNotLike':
          return actual === undefined || !values.some((v) => wildcardMatch(v, actual));
        case 'Null':
          return values.some((v) => (v === 'true' ? actual === undefined : actual !== undefined));
        default:
          // An operator we do not know never holds: fail closed.
          return false;
      }
    });
  });
}

/** Decide whether `caller` may assume a role with this trust policy, given the external id (if any). */
export function evaluateTrustPolicy(policy: Json, caller: Caller, externalId: string | undefined): Decision {
  const context = new Map<string, string>();
  if (externalId !== undefined) context.set('sts:externalid', externalId);
  context.set('aws:principalaccount', caller.account);
  context.set('aws:principalarn', caller.roleArn ?? caller.arn);
  const statements = list((policy as Record<string, Json> | null)?.Statement);
  let allowed = false;
  for (const s of statements) {
    if (s === null || typeof s !== 'object') continue;
    const st = s as Record<string, Json>;
    if (!actionMatches(st.Action) || !principalMatches(st.Principal, caller) || !conditionsHold(st.Condition, context)) continue;
    if (st.Effect === 'Deny') return 'deny';
    if (st.Effect === 'Allow') allowed = true;
  }
  return allowed ? 'allow' : 'implicit-deny';
}
