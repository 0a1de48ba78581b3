use crate::db::DbError;
use crate::domain::FieldErrors;

/// Outcomes of the accounts use cases other than success.
#[derive(Debug, thiserror::Error)]
pub enum AccountsError {
    /// The input broke one or more rules; messages per field.
    #[error("invalid input: {0}")]
    Validation(FieldErrors),
    /// Unknown user, wrong password or inactive account: deliberately one answer for all three.
    #[error("No active account found with the given credentials")]
    InvalidCredentials,
    /// Too many failed logins: try again after this many seconds.
    #[error("Request was throttled. Expected available in {retry_after} seconds.")]
    Throttled {
        /// Seconds to wait.
        retry_after: u64,
    },
    /// An activation token for an account that is already active (Djoser's 403).
    #[error("Stale token for given user.")]
    StaleToken,
    /// Activation mail is switched off.
    #[error("Account activation is not enabled on this server.")]
    ActivationDisabled,
    /// No user with that id or username.
    #[error("user not found")]
    NotFound,
    /// The database could not be reached, or the hashing queue is full: try again shortly.
    #[error("Service temporarily unavailable, try again later.")]
    Unavailable,
    /// Anything else: a bug or an outage. The cause chain is logged, never shown.
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl From<DbError> for AccountsError {
    fn from(e: DbError) -> Self {
        if e.is_unavailable() {
            tracing::warn!(error = %crate::telemetry::error_chain(&e), "database unavailable");
            return Self::Unavailable;
        }
        Self::Unexpected(e.into())
    }
}

impl From<diesel::result::Error> for AccountsError {
    fn from(e: diesel::result::Error) -> Self {
        DbError::Query(e).into()
    }
}

impl From<super::HashError> for AccountsError {
    fn from(e: super::HashError) -> Self {
        match e {
            super::HashError::QueueFull => Self::Unavailable,
            super::HashError::AccountBusy => Self::Throttled { retry_after: 1 },
            other => Self::Unexpected(other.into()),
        }
    }
}
