use crate::accounts::AccountsError;
use crate::db::DbError;
use crate::sessions::SessionError;

/// Why a token (or the login that would mint one) was refused.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// Unknown user, wrong password or inactive account at login.
    #[error("No active account found with the given credentials")]
    InvalidCredentials,
    /// Bad signature, malformed, unknown jti or missing claims.
    #[error("Token is invalid")]
    Invalid,
    /// Past its `exp`.
    #[error("Token is expired")]
    Expired,
    /// An access token where a refresh token was expected, or the reverse.
    #[error("Token has wrong type")]
    WrongType,
    /// Blacklisted, rotated out, or its session was revoked.
    #[error("Token is blacklisted")]
    Blacklisted,
    /// The session's user no longer exists.
    #[error("User not found")]
    UserNotFound,
    /// The session's user is inactive.
    #[error("User is inactive")]
    UserInactive,
    /// Too many failed logins.
    #[error("Request was throttled. Expected available in {retry_after} seconds.")]
    Throttled {
        /// Seconds to wait.
        retry_after: u64,
    },
    /// The database could not be reached, or the hashing queue is full: try again shortly.
    #[error("Service temporarily unavailable, try again later.")]
    Unavailable,
    /// Anything else; logged, never shown.
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl From<DbError> for TokenError {
    fn from(e: DbError) -> Self {
        if e.is_unavailable() {
            tracing::warn!(error = %crate::telemetry::error_chain(&e), "database unavailable");
            return Self::Unavailable;
        }
        Self::Unexpected(e.into())
    }
}

impl From<diesel::result::Error> for TokenError {
    fn from(e: diesel::result::Error) -> Self {
        DbError::Query(e).into()
    }
}

impl From<SessionError> for TokenError {
    fn from(e: SessionError) -> Self {
        match e {
            SessionError::Unavailable => Self::Unavailable,
            SessionError::Unexpected(e) => Self::Unexpected(e),
        }
    }
}

impl From<AccountsError> for TokenError {
    fn from(e: AccountsError) -> Self {
        match e {
            AccountsError::InvalidCredentials => Self::InvalidCredentials,
            AccountsError::Throttled { retry_after } => Self::Throttled { retry_after },
            AccountsError::Unavailable => Self::Unavailable,
            other => Self::Unexpected(anyhow::Error::new(other)),
        }
    }
}
