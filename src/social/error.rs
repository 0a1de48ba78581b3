use crate::db::DbError;
use crate::sessions::SessionError;
use crate::tokens::TokenError;

/// What can go wrong with social login. The adapters word each (dj-rest-auth's
/// `non_field_errors` for the API).
#[derive(Debug, thiserror::Error)]
pub enum SocialError {
    /// No provider is configured under this name.
    #[error("unknown provider {0:?}")]
    UnknownProvider(String),
    /// Neither an id_token, an access token nor a code was sent.
    #[error("no token or code")]
    MissingInput,
    /// An access token without an ID token: it may have been issued to another application
    /// (token substitution), and only an ID token says whom it was issued to.
    #[error("an ID token is required")]
    IdTokenRequired,
    /// The provider's tokens do not hold: signature, issuer, audience, expiry, or a userinfo
    /// `sub` that is not the ID token's.
    #[error("the provider's tokens were refused: {0}")]
    Refused(String),
    /// The provider shares no email address, which every Latchkey account needs.
    #[error("the provider shared no email address")]
    NoEmail,
    /// A local account already has this address; it is not linked without its password.
    #[error("an account already uses this address")]
    EmailTaken,
    /// The identity is linked to another account already.
    #[error("the identity is linked to another account")]
    LinkedElsewhere,
    /// Unlinking would leave the account without an identity or a usable password.
    #[error("the last way to log in cannot be unlinked")]
    LastWayIn,
    /// The linked account is deactivated.
    #[error("the account is inactive")]
    Inactive,
    /// The provider cannot be reached (or answered garbage) within the time allowed.
    #[error("the provider cannot be reached: {0}")]
    ProviderUnavailable(String),
    /// The database cannot be reached.
    #[error("service unavailable")]
    Unavailable,
    /// Anything else.
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl From<DbError> for SocialError {
    fn from(e: DbError) -> Self {
        if e.is_unavailable() {
            return Self::Unavailable;
        }
        Self::Unexpected(e.into())
    }
}

impl From<diesel::result::Error> for SocialError {
    fn from(e: diesel::result::Error) -> Self {
        DbError::Query(e).into()
    }
}

impl From<SessionError> for SocialError {
    fn from(e: SessionError) -> Self {
        match e {
            SessionError::Unavailable => Self::Unavailable,
            SessionError::Unexpected(e) => Self::Unexpected(e),
        }
    }
}

impl From<TokenError> for SocialError {
    fn from(e: TokenError) -> Self {
        match e {
            TokenError::Unavailable => Self::Unavailable,
            TokenError::UserInactive => Self::Inactive,
            TokenError::Unexpected(e) => Self::Unexpected(e),
            other => Self::Unexpected(anyhow::Error::new(other)),
        }
    }
}
