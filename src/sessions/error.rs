use crate::db::DbError;

/// Why a session use case failed.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// The database could not be reached: try again shortly.
    #[error("Service temporarily unavailable, try again later.")]
    Unavailable,
    /// Anything else; logged, never shown.
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl From<DbError> for SessionError {
    fn from(e: DbError) -> Self {
        if e.is_unavailable() {
            tracing::warn!(error = %crate::telemetry::error_chain(&e), "database unavailable");
            return Self::Unavailable;
        }
        Self::Unexpected(e.into())
    }
}

impl From<diesel::result::Error> for SessionError {
    fn from(e: diesel::result::Error) -> Self {
        DbError::Query(e).into()
    }
}
