/// A connection to either backend. Diesel's MultiConnection limits us to its portable type
/// subset (no timestamptz/uuid/jsonb) and to queries both backends understand.
#[derive(diesel::MultiConnection)]
pub enum DbConn {
    /// PostgreSQL.
    Pg(diesel::PgConnection),
    /// SQLite (listed last: it accepts nearly any string as a path).
    Sqlite(diesel::SqliteConnection),
}
