/// Failures of the database layer itself (not of a use case's rules).
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// `DATABASE_URL` is not usable.
    #[error("invalid DATABASE_URL: {0}")]
    InvalidUrl(String),
    /// A connection could not be opened (the driver's own message).
    #[error("cannot connect to the database: {0}")]
    Connect(#[from] diesel::r2d2::Error),
    /// No connection could be had from the pool.
    #[error("database unavailable")]
    Pool(#[from] r2d2::Error),
    /// A query failed.
    #[error("database query failed")]
    Query(#[from] diesel::result::Error),
    /// Migrations could not be applied.
    #[error("migration failed: {0}")]
    Migration(String),
    /// The blocking task running the query died.
    #[error("database task failed")]
    Join(#[from] tokio::task::JoinError),
}

impl DbError {
    /// True when the database could not be reached (no pooled connection in time, or the
    /// connection was lost mid-query): the request may succeed if retried shortly.
    pub fn is_unavailable(&self) -> bool {
        match self {
            Self::Pool(_) => true,
            Self::Query(e) => is_connection_lost(e),
            _ => false,
        }
    }
}

/// True for the query errors that mean "the connection is gone", not "the query was wrong".
pub fn is_connection_lost(e: &diesel::result::Error) -> bool {
    use diesel::result::{DatabaseErrorKind, Error};
    matches!(
        e,
        Error::DatabaseError(
            DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand,
            _
        ) | Error::BrokenTransactionManager
    )
}
