import type { CatalogStore } from '../catalog/store.js';
import type { Executor } from '../exec/executor.js';
import type { Logger } from '../log.js';

/** What a connection needs from the server around it; built in server.ts. */
export interface ServerContext {
  readonly log: Logger;
  readonly store: CatalogStore;
  readonly executor: Executor;
  readonly statementTimeoutMs: number;
  /** Check a login and return the user's role id; throws a SqlError (sent as FATAL). */
  login(user: string, database: string): Promise<string>;
  /** A CancelRequest arrived for the session with this pid and key. */
  cancel(pid: number, secretKey: number): void;
  /** The connection has closed. */
  closed(connection: { readonly pid: number }): void;
}
