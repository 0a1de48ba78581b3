use diesel::connection::{AnsiTransactionManager, Connection, TransactionManager};

use super::DbConn;

/// Runs `f` in a transaction that holds the write lock from its first statement.
///
/// SQLite starts a plain `BEGIN` as a reader and upgrades it at its first write; if another
/// connection wrote in between, the upgrade fails with "database is locked" at once (the busy
/// timeout cannot help a snapshot that is already stale). `BEGIN IMMEDIATE` takes the write
/// lock first, so writers queue on the busy timeout instead. Nested calls are savepoints, as
/// with [`Connection::transaction`]. On PostgreSQL this is a plain transaction.
pub fn write_transaction<T, E, F>(conn: &mut DbConn, f: F) -> Result<T, E>
where
    F: FnOnce(&mut DbConn) -> Result<T, E>,
    E: From<diesel::result::Error>,
{
    let outermost_sqlite = match conn {
        DbConn::Sqlite(sqlite) => AnsiTransactionManager::transaction_manager_status_mut(sqlite)
            .transaction_depth()?
            .is_none(),
        DbConn::Pg(_) => false,
    };
    if !outermost_sqlite {
        return conn.transaction(f);
    }
    if let DbConn::Sqlite(sqlite) = conn {
        AnsiTransactionManager::begin_transaction_sql(sqlite, "BEGIN IMMEDIATE")?;
    }
    // From here the connection's own transaction manager (which delegates to the SQLite one
    // that just began) commits or rolls back, as `Connection::transaction` would.
    type Manager = <DbConn as Connection>::TransactionManager;
    match f(conn) {
        Ok(value) => {
            Manager::commit_transaction(conn)?;
            Ok(value)
        }
        Err(error) => match Manager::rollback_transaction(conn) {
            Ok(()) | Err(diesel::result::Error::BrokenTransactionManager) => Err(error),
            Err(rollback) => Err(rollback.into()),
        },
    }
}
