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

/// The migration after which every token Latchkey mints carries `iss` and `aud`.
pub const ISSUER_CLAIMS_MIGRATION: &str = "20261129000004";

#[derive(diesel::QueryableByName)]
struct RunOn {
    #[diesel(sql_type = diesel::sql_types::Timestamp)]
    run_on: chrono::NaiveDateTime,
}

/// When a migration was applied to this database (UTC), if it was.
pub fn applied_at(
    conn: &mut DbConn,
    version: &str,
) -> Result<Option<chrono::NaiveDateTime>, DbError> {
    use diesel::{OptionalExtension, RunQueryDsl};
    diesel::sql_query("SELECT run_on FROM __diesel_schema_migrations WHERE version = $1")
        .bind::<diesel::sql_types::Text, _>(version)
        .get_result::<RunOn>(conn)
        .optional()
        .map(|row| row.map(|r| r.run_on))
        .map_err(DbError::from)
}
