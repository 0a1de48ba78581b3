use crate::accounts::AccountsError;
use crate::db::DbError;
use crate::sessions::SessionError;

/// Why a token (or the login that would mint one) was refused. Each variant is a meaning;
/// the adapters word it (SimpleJWT's messages in the API). `Display` is for logs.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// Unknown user, wrong password or inactive account at login.
    #[error("invalid credentials")]
    InvalidCredentials,
    /// Bad signature, malformed, unknown jti or missing claims.
    #[error("invalid token")]
    Invalid,
    /// Past its `exp`.
    #[error("expired token")]
    Expired,
    /// An access token where a refresh token was expected, or the reverse.
    #[error("wrong token type")]
    WrongType,
    /// Blacklisted, rotated out, or its session was revoked.
    #[error("blacklisted token")]
    Blacklisted,
    /// The session's user no longer exists.
    #[error("user not found")]
    UserNotFound,
    /// The session's user is inactive.
    #[error("user inactive")]
    UserInactive,
    /// Too many failed logins.
    #[error("throttled for {retry_after} s")]
    Throttled {
        /// Seconds to wait.
        retry_after: u64,
    },
    /// The database could not be reached, or the hashing queue is full: try again shortly.
    #[error("service unavailable")]
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
            AccountsError::Unexpected(e) => Self::Unexpected(e),
            other => Self::Unexpected(anyhow::Error::new(other)),
        }
    }
}
