/** CLI entry: flags and IAMLINK_* environment → Config → a running server. */
import { readFileSync } from 'node:fs';
import { ConfigError, helpText, isLoopback, loadConfig } from './config.js';
import { createLogger } from './log.js';
import { startServer } from './server.js';

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(helpText());
    return;
  }
  if (argv.includes('--version')) {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
    process.stdout.write(`iamlink ${pkg.version}\n`);
    return;
  }
  let config;
  try {
    config = loadConfig(argv);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`iamlink: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  const log = createLogger(config.logLevel);
  let server;
  try {
    server = await startServer(config, { log });
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`iamlink: ${err.message}\n`);
      process.exit(2);
    }
    process.stderr.write(`iamlink: could not start: ${(err as Error).message}\n`);
    process.exit(1);
  }
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    server.close().then(
      () => {
        log.flush();
        process.exit(0);
      },
      (err: unknown) => {
        log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
  if (config.auth === 'trust' && !isLoopback(config.listen.host)) {
    // Allowed only with --allow-insecure-trust: on purpose, but never silently.
    log.warn({ listen: config.listen.host }, 'listening beyond loopback with trust authentication: anyone who can reach this address can connect');
  }
  // Print only once the handlers are in place: whoever reads this line may signal at once.
  process.stdout.write(`iamlink listening on ${server.host}:${server.port} (catalog in ${server.catalog}); connect with: psql ${server.url}\n`);
}

void main();
