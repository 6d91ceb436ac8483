import { describe, expect, it } from 'vitest';
import { evaluateTrustPolicy, wildcardMatch, type Caller } from './trust-policy.js';

const JUMP = 'arn:aws:iam::111111111111:role/jump';
const jumpSession: Caller = { account: '111111111111', arn: 'arn:aws:sts::111111111111:assumed-role/jump/env-1', roleArn: JUMP };
const other: Caller = { account: '222222222222', arn: 'arn:aws:iam::222222222222:user/mallory' };

const policy = (statement: object): object => ({ Version: '2012-10-17', Statement: [statement] });
const allowJump = (condition?: object): object =>
  policy({ Effect: 'Allow', Principal: { AWS: JUMP }, Action: 'sts:AssumeRole', ...(condition ? { Condition: condition } : {}) });

describe('trust policy evaluation', () => {
  it('allows the trusted role with the right external id and refuses others', () => {
    const p = allowJump({ StringEquals: { 'sts:ExternalId': 'mz_p_u1' } });
    expect(evaluateTrustPolicy(p, jumpSession, 'mz_p_u1')).toBe('allow');
    expect(evaluateTrustPolicy(p, jumpSession, undefined)).toBe('implicit-deny');
    expect(evaluateTrustPolicy(p, jumpSession, 'mz_p_u2')).toBe('implicit-deny');
    expect(evaluateTrustPolicy(p, other, 'mz_p_u1')).toBe('implicit-deny');
  });

  it('without a condition, anyone who can be the trusted role gets in with any or no external id', () => {
    expect(evaluateTrustPolicy(allowJump(), jumpSession, undefined)).toBe('allow');
    expect(evaluateTrustPolicy(allowJump(), jumpSession, 'anything')).toBe('allow');
  });

  it('StringLike "*" requires some external id but accepts a wrong one', () => {
    const p = allowJump({ StringLike: { 'sts:ExternalId': '*' } });
    expect(evaluateTrustPolicy(p, jumpSession, undefined)).toBe('implicit-deny');
    expect(evaluateTrustPolicy(p, jumpSession, 'wrong')).toBe('allow');
  });

  it('Null: "false" requires the key to be present', () => {
    const p = allowJump({ Null: { 'sts:ExternalId': 'false' } });
    expect(evaluateTrustPolicy(p, jumpSession, undefined)).toBe('implicit-deny');
    expect(evaluateTrustPolicy(p, jumpSession, 'x')).toBe('allow');
  });

  it('an explicit Deny wins over an Allow', () => {
    const p = {
      Statement: [
        { Effect: 'Allow', Principal: { AWS: JUMP }, Action: 'sts:AssumeRole' },
        { Effect: 'Deny', Principal: '*', Action: 'sts:*', Condition: { StringNotEquals: { 'sts:ExternalId': 'good' } } },
      ],
    };
    expect(evaluateTrustPolicy(p, jumpSession, 'good')).toBe('allow');
    expect(evaluateTrustPolicy(p, jumpSession, 'bad')).toBe('deny');
    expect(evaluateTrustPolicy(p, jumpSession, undefined)).toBe('deny');
  });

  it('matches principals by account id, root, role, assumed-role session, user and *', () => {
    const stmt = (aws: unknown): object => policy({ Effect: 'Allow', Principal: { AWS: aws }, Action: ['sts:AssumeRole'] });
    expect(evaluateTrustPolicy(stmt('111111111111'), jumpSession, undefined)).toBe('allow');
    expect(evaluateTrustPolicy(stmt('arn:aws:iam::111111111111:root'), jumpSession, undefined)).toBe('allow');
    expect(evaluateTrustPolicy(stmt('arn:aws:iam::111111111111:root'), other, undefined)).toBe('implicit-deny');
    expect(evaluateTrustPolicy(stmt('arn:aws:sts::111111111111:assumed-role/jump/env-1'), jumpSession, undefined)).toBe('allow');
    expect(evaluateTrustPolicy(stmt('arn:aws:sts::111111111111:assumed-role/jump/other'), jumpSession, undefined)).toBe('implicit-deny');
    expect(evaluateTrustPolicy(stmt(['arn:aws:iam::222222222222:user/mallory']), other, undefined)).toBe('allow');
    expect(evaluateTrustPolicy(policy({ Effect: 'Allow', Principal: '*', Action: 'sts:AssumeRole' }), other, undefined)).toBe('allow');
    expect(evaluateTrustPolicy(policy({ Effect: 'Allow', Principal: { AWS: JUMP }, Action: 's3:GetObject' }), jumpSession, undefined)).toBe('implicit-deny');
  });

  it('fails closed on operators it does not know', () => {
    expect(evaluateTrustPolicy(allowJump({ StringEqualsIgnoreCaseX: { 'sts:ExternalId': 'x' } }), jumpSession, 'x')).toBe('implicit-deny');
  });

  it('wildcards follow IAM: * any run, ? one character, nothing else special', () => {
    expect(wildcardMatch('mz_*_u?', 'mz_abc_u7')).toBe(true);
    expect(wildcardMatch('a.b', 'axb')).toBe(false);
  });
});
