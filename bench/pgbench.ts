/** pgbench runs of the walkthrough's lookup, one or several at once. */
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
export const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);

/** The walkthrough's join by a random connection name among conn_1 .. conn_n. */
export function lookupScript(n: number): string {
  const path = join(tmpdir(), `iamlink-lookup-${n}.sql`);
  writeFileSync(
    path,
    `\\set n random(1, ${n})\nSELECT principal, external_id, example_trust_policy FROM mz_internal.mz_aws_connections aws JOIN mz_connections c ON aws.id = c.id WHERE c.name = 'conn_' || :n;\n`,
  );
  return path;
}

export interface PgbenchOptions {
  readonly env?: NodeJS.ProcessEnv;
  readonly mode?: 'simple' | 'prepared';
  readonly clients?: number;
  /** -C: a new connection for every transaction (the login rate); TPS then includes connecting. */
  readonly connect?: boolean;
}

/** TPS of one pgbench run (`-c clients -j 2 -T SECONDS`); failed transactions make it throw. */
export async function pgbench(url: string, script: string, options: PgbenchOptions = {}): Promise<number> {
  const args = ['-n', '-M', options.mode ?? 'simple', ...(options.connect ? ['-C'] : []), '-f', script, '-c', String(options.clients ?? 4), '-j', '2', '-T', String(SECONDS), url];
  const { stdout } = await run('pgbench', args, { encoding: 'utf8', env: { ...process.env, ...options.env }, maxBuffer: 16 * 1024 * 1024 });
  const m = (options.connect ? /tps = ([\d.]+) \(including reconnection times\)|tps = ([\d.]+)/ : /tps = ([\d.]+) \(without initial connection time\)/).exec(stdout);
  if (!m) throw new Error(`pgbench printed no tps:\n${stdout}`);
  const failed = /number of failed transactions: (\d+)/.exec(stdout);
  if (failed && Number(failed[1]) > 0) throw new Error(`pgbench: ${failed[1]} failed transactions against ${url}:\n${stdout}`);
  return Number(m[1] ?? m[2]);
}

/** Several pgbench runs at the same time (e.g. one per node); their TPS in order. */
export function pgbenchTogether(urls: readonly string[], script: string, options: PgbenchOptions = {}): Promise<number[]> {
  return Promise.all(urls.map((url) => pgbench(url, script, options)));
}
