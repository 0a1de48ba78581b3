use diesel::prelude::*;

use super::DbConn;

/// Runs `f` in a transaction that holds the write lock from its first statement.
///
/// SQLite starts a transaction as a reader and upgrades it at its first write; if another
/// connection wrote in between, the upgrade fails with "database is locked" at once (the busy
/// timeout cannot help a snapshot that is already stale). Taking the write lock first makes
/// writers queue on the busy timeout instead. On PostgreSQL this is a plain transaction.
pub fn write_transaction<T, E, F>(conn: &mut DbConn, f: F) -> Result<T, E>
where
    F: FnOnce(&mut DbConn) -> Result<T, E>,
    E: From<diesel::result::Error>,
{
    conn.transaction(|conn| {
        if let DbConn::Sqlite(sqlite) = conn {
            // A write statement that changes nothing still takes SQLite's RESERVED lock.
            diesel::sql_query("UPDATE mail_cooldowns SET last_at = last_at WHERE 0")
                .execute(sqlite)?;
        }
        f(conn)
    })
}
