// The engine's database is named `materialize`, as Materialize's is: current_database(),
// current_catalog, information_schema and psql's \l all say so (docs/compat.md, "Database
// name"). PGlite's initdb creates `postgres`, and data directories made before this hold their
// catalog in `postgres`: it is renamed once, from template1 (PostgreSQL cannot rename the
// database a session is connected to). A rename changes one row of pg_database; the data stays
// where it is. Plain JavaScript, loaded by the engine thread as is.
import { PGlite } from '@electric-sql/pglite';

/** The one database iamlink's engine uses. */
export const CATALOG_DATABASE = 'materialize';

/** Open the data directory's `materialize` database, renaming `postgres` to it first if need be. */
export async function openCatalogDatabase(dataDir) {
  try {
    return await PGlite.create(dataDir, { database: CATALOG_DATABASE });
  } catch (err) {
    // PGlite says only that it failed to start: a fresh data directory (initdb has just made
    // `postgres`) or one from before the rename, if template1 shows exactly that.
    let template;
    try {
      template = await PGlite.create(dataDir, { database: 'template1' });
    } catch {
      throw err;
    }
    try {
      const { rows } = await template.query('SELECT datname FROM pg_catalog.pg_database');
      const names = rows.map((r) => r.datname);
      if (names.includes(CATALOG_DATABASE) || !names.includes('postgres')) throw err;
      await template.exec(`ALTER DATABASE postgres RENAME TO ${CATALOG_DATABASE}`);
    } finally {
      await template.close();
    }
    return PGlite.create(dataDir, { database: CATALOG_DATABASE });
  }
}
