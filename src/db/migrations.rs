use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use super::{DbConn, DbError};

const SQLITE: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
const POSTGRES: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// Applies every pending migration of the connection's backend; returns the versions applied
/// (empty when the schema was already current).
pub fn run_pending_migrations(conn: &mut DbConn) -> Result<Vec<String>, DbError> {
    let applied = match conn {
        DbConn::Pg(pg) => pg.run_pending_migrations(POSTGRES),
        DbConn::Sqlite(sqlite) => sqlite.run_pending_migrations(SQLITE),
    }
    .map_err(|e| DbError::Migration(e.to_string()))?;
    Ok(applied.iter().map(ToString::to_string).collect())
}
