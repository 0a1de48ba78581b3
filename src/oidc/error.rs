use crate::db::DbError;
use crate::keys::KeyError;
use crate::oauth::ClientsError;
use crate::tokens::TokenError;

/// The error codes of RFC 6749 §4.1.2.1 and §5.2, OpenID Connect Core §3.1.2.6 and RFC 6750
/// §3.1 that the provider answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// A parameter is missing, repeated or malformed.
    InvalidRequest,
    /// The client is unknown or failed to authenticate.
    InvalidClient,
    /// The code or refresh token is invalid, expired, used, or another client's.
    InvalidGrant,
    /// The client may not use this grant or endpoint.
    UnauthorizedClient,
    /// The grant type is not supported.
    UnsupportedGrantType,
    /// The response type is not supported.
    UnsupportedResponseType,
    /// The scope is not acceptable.
    InvalidScope,
    /// The person said no.
    AccessDenied,
    /// `prompt=none`, but the person must log in.
    LoginRequired,
    /// `prompt=none`, but the person must consent.
    ConsentRequired,
    /// The bearer token is invalid, expired or revoked.
    InvalidToken,
    /// The bearer token lacks a scope the endpoint needs.
    InsufficientScope,
}

impl ErrorCode {
    /// The code on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidRequest => "invalid_request",
            Self::InvalidClient => "invalid_client",
            Self::InvalidGrant => "invalid_grant",
            Self::UnauthorizedClient => "unauthorized_client",
            Self::UnsupportedGrantType => "unsupported_grant_type",
            Self::UnsupportedResponseType => "unsupported_response_type",
            Self::InvalidScope => "invalid_scope",
            Self::AccessDenied => "access_denied",
            Self::LoginRequired => "login_required",
            Self::ConsentRequired => "consent_required",
            Self::InvalidToken => "invalid_token",
            Self::InsufficientScope => "insufficient_scope",
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why an authorization request cannot be answered at its `redirect_uri`: the browser must not
/// be sent to an address the client did not register (an open redirector otherwise).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoRedirect {
    /// No `client_id`.
    MissingClientId,
    /// No client has this id.
    UnknownClient,
    /// No `redirect_uri`.
    MissingRedirectUri,
    /// The `redirect_uri` is not one the client registered (exact match).
    UnregisteredRedirectUri,
    /// The `id_token_hint` of a logout was not an ID token this provider issued.
    InvalidIdTokenHint,
    /// The `post_logout_redirect_uri` is not one the client registered.
    UnregisteredPostLogoutUri,
}

/// What can go wrong in the provider's flows.
#[derive(Debug, thiserror::Error)]
pub enum OidcError {
    /// Refused as the protocol says: the code, and a description for the client's developer.
    #[error("{code}: {description}")]
    Refused {
        /// The protocol's error code.
        code: ErrorCode,
        /// One sentence for the client's developer (`error_description`).
        description: &'static str,
    },
    /// A browser request that must end on Latchkey's own error page.
    #[error("no redirect: {0:?}")]
    NoRedirect(NoRedirect),
    /// The database cannot be reached.
    #[error("service unavailable")]
    Unavailable,
    /// Anything else.
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl OidcError {
    /// A refusal with this code and description.
    pub fn refused(code: ErrorCode, description: &'static str) -> Self {
        Self::Refused { code, description }
    }
}

impl From<DbError> for OidcError {
    fn from(e: DbError) -> Self {
        if e.is_unavailable() {
            tracing::warn!(error = %crate::telemetry::error_chain(&e), "database unavailable");
            return Self::Unavailable;
        }
        Self::Unexpected(e.into())
    }
}

impl From<diesel::result::Error> for OidcError {
    fn from(e: diesel::result::Error) -> Self {
        DbError::Query(e).into()
    }
}

impl From<ClientsError> for OidcError {
    fn from(e: ClientsError) -> Self {
        match e {
            ClientsError::Db(e) => e.into(),
            other => Self::Unexpected(anyhow::Error::new(other)),
        }
    }
}

impl From<KeyError> for OidcError {
    fn from(e: KeyError) -> Self {
        match e {
            KeyError::Db(e) => e.into(),
            other => Self::Unexpected(anyhow::Error::new(other)),
        }
    }
}

impl From<TokenError> for OidcError {
    /// A token the client presented that does not hold: the grant's refusal. The endpoints
    /// that take bearer tokens map their own (`invalid_token`).
    fn from(e: TokenError) -> Self {
        match e {
            TokenError::Unavailable => Self::Unavailable,
            TokenError::Unexpected(e) => Self::Unexpected(e),
            _ => Self::refused(
                ErrorCode::InvalidGrant,
                "the grant is invalid, expired or revoked",
            ),
        }
    }
}
